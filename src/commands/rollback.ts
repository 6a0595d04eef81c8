import { defineCommand } from "citty";
import { rollbackService } from "../engine/rollback.ts";
import { UsageError } from "../errors.ts";
import { logger } from "../output/logger.ts";
import { output } from "../output/style.ts";
import { rootArgs } from "./_args.ts";
import { runBatch } from "./_run.ts";

export default defineCommand({
  meta: { name: "rollback", description: "Switch a package service back to its previous release, and restart it" },
  args: { ...rootArgs, name: { type: "positional", required: false, description: "The package service", valueHint: "name" } },
  run: ({ args }) => {
    if (!args.name) throw new UsageError("sv rollback needs the name of a package service");
    return runBatch(args, "rollback", async (ctx) => {
      const r = await rollbackService(ctx, args.name!);
      if (!output.json && !output.quiet) logger.info(`${args.name}: release ${r.from ?? "(none)"} -> ${r.to}`);
      return r.outcomes;
    });
  },
});
