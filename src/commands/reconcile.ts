import { defineCommand } from "citty";
import { SvError } from "../errors.ts";
export default defineCommand({ meta: { name: "reconcile" }, run() { throw new SvError("not built yet"); } });
