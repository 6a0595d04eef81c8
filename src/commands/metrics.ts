import { defineCommand } from "citty";
import { SvError } from "../errors.ts";
export default defineCommand({ meta: { name: "metrics" }, run() { throw new SvError("not built yet"); } });
