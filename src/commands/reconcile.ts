import { defineCommand } from "citty";
import { BatchFailure } from "../errors.ts";
import { openContext } from "../engine/context.ts";
import { nextScheduledStart, reconcilePass, type Said, saidLine, unhealthyWanted } from "../engine/reconcile.ts";
import { writeSaid } from "../output/said.ts";
import { warningsReporter } from "../output/progress.ts";
import { logger } from "../output/logger.ts";
import { output } from "../output/style.ts";
import { rootArgs } from "./_args.ts";

/** How long a cron reconcile waits for a busy store before exiting 3. */
const RECONCILE_LOCK_WAIT_MS = 2000;
/** Restarts due within this window are done by this run rather than the next. */
const RECONCILE_SETTLE_MS = 10_000;

export default defineCommand({
  meta: {
    name: "reconcile",
    description: "One watchdog pass for cron: find dead processes, run health checks, apply restart policies, rotate logs. Silent when nothing changed; exit 1 if a wanted-up service is not running and healthy",
  },
  args: { ...rootArgs },
  async run({ args }) {
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], reporter: warningsReporter, fromStore: true });
    if (ctx.configError) logger.warn(`the configuration cannot be loaded (${ctx.configError}); observing what the store recorded, restarting nothing`);
    if (args["wait-lock"] !== false) ctx.lockWaitMs = RECONCILE_LOCK_WAIT_MS;
    const lines: string[] = [];
    const report = (said: Said) => {
      const line = saidLine(said);
      lines.push(line);
      if (output.logFormat === "json") writeSaid(said, line, "action");
      else if (!output.json && !output.quiet) console.log(line);
    };
    let state = await reconcilePass(ctx, report);
    // A restart the backoff scheduled shortly (the first ones: 100 ms, 200 ms …) is waited for here,
    // not left to the next cron run a minute later.
    const deadline = Date.now() + RECONCILE_SETTLE_MS;
    for (let due = nextScheduledStart(ctx, state); due !== null && due <= deadline; due = nextScheduledStart(ctx, state)) {
      await Bun.sleep(Math.max(5, due - Date.now()));
      state = await reconcilePass(ctx, report);
    }
    const bad = unhealthyWanted(ctx, state);
    if (output.json) console.log(JSON.stringify({ actions: lines, not_ready: bad }));
    if (bad.length > 0) throw new BatchFailure("");
  },
});
