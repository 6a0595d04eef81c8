import { defineCommand } from "citty";
import { loadProject } from "../config/load.ts";
import { ConfigError } from "../errors.ts";
import { output } from "../output/style.ts";
import { findRoot } from "../paths.ts";
import { rootArgs } from "./_args.ts";

export default defineCommand({
  meta: { name: "validate", description: "Load and check all configuration, report every problem, start nothing" },
  args: { ...rootArgs },
  async run({ args }) {
    const root = findRoot(process.cwd(), args.root || process.env.SV_ROOT || undefined);
    // strict: also the checks the fast path of other commands skips (duplicate keys).
    const project = await loadProject(root, process.env, { strict: true }).catch((e: unknown) => {
      if (output.json && e instanceof ConfigError) console.log(JSON.stringify({ ok: false, root, problems: e.problems }));
      throw e;
    });
    const n = project.services.size;
    if (output.json) console.log(JSON.stringify({ ok: true, root, services: [...project.services.keys()] }));
    else if (!output.quiet) console.log(`✓ ${n} service${n === 1 ? "" : "s"} in ${root}: no problems`);
  },
});
