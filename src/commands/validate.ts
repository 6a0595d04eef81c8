import { defineCommand } from "citty";
import { openContext } from "../engine/context.ts";
import { output } from "../output/style.ts";
import { rootArgs } from "./_args.ts";

export default defineCommand({
  meta: { name: "validate", description: "Load and check all configuration, report every problem, start nothing" },
  args: { ...rootArgs },
  async run({ args }) {
    const ctx = await openContext({ root: args.root });
    const n = ctx.project.services.size;
    if (output.json) console.log(JSON.stringify({ ok: true, root: ctx.project.root, services: [...ctx.project.services.keys()] }));
    else if (!output.quiet) console.log(`✓ ${n} service${n === 1 ? "" : "s"} in ${ctx.project.root}: no problems`);
  },
});
