import { defineCommand } from "citty";
import { SvError } from "../errors.ts";
export default defineCommand({ meta: { name: "events" }, run() { throw new SvError("not built yet"); } });
