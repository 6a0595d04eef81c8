import { defineCommand } from "citty";
import { openContext } from "../engine/context.ts";
import { refresh } from "../engine/observe.ts";
import { overallHealth } from "../engine/overall.ts";
import { unitStatuses } from "../engine/report.ts";
import { logger } from "../output/logger.ts";
import { warningsReporter } from "../output/progress.ts";
import { output } from "../output/style.ts";
import { rootArgs } from "./_args.ts";

export default defineCommand({
  meta: { name: "health", description: "One line of overall health (healthy, degraded: db error, down); exit 0 only when every wanted-up service is ready" },
  args: { ...rootArgs },
  async run({ args }) {
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], reporter: warningsReporter, fromStore: true });
    if (ctx.configError) logger.warn(`the configuration cannot be loaded (${ctx.configError}); judging from what the store recorded`);
    const overall = overallHealth(unitStatuses(ctx, await refresh(ctx)));
    if (output.json) console.log(JSON.stringify(overall));
    else if (!output.quiet) console.log(overall.line);
    if (overall.status !== "healthy") process.exitCode = 1;
  },
});
