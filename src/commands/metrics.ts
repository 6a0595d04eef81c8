import { defineCommand } from "citty";
import { openContext } from "../engine/context.ts";
import { refresh } from "../engine/observe.ts";
import { collectMetrics, formatExposition } from "../observe/metrics.ts";
import { warningsReporter } from "../output/progress.ts";
import { output } from "../output/style.ts";
import { rootArgs } from "./_args.ts";

export default defineCommand({
  meta: {
    name: "metrics",
    description: "Observe like `sv status`, then print Prometheus text exposition (format 0.0.4); --json prints {\"metrics\":[families]}",
  },
  args: { ...rootArgs },
  async run({ args }) {
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], reporter: warningsReporter });
    const state = await refresh(ctx);
    const families = collectMetrics(ctx.project, state, Date.now());
    if (output.json) console.log(JSON.stringify({ metrics: families }));
    else if (!output.quiet) console.log(formatExposition(families).trimEnd());
  },
});
