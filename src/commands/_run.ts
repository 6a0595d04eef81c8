// Shared tail of the batch commands: run with a progress reporter, print JSON, fail if any failed.
import { BatchFailure } from "../errors.ts";
import { type Ctx, openContext } from "../engine/context.ts";
import type { Outcome } from "../engine/orchestrate.ts";
import { createReporter } from "../output/progress.ts";
import { output } from "../output/style.ts";

/** Open the project, run `op` under a progress reporter, then report the per-service outcomes. */
export async function runBatch(
  args: { root?: string; "wait-lock"?: boolean },
  verb: string,
  op: (ctx: Ctx) => Promise<Map<string, Outcome>>,
): Promise<void> {
  const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"] });
  const reporter = await createReporter();
  ctx.reporter = reporter;
  let outcomes: Map<string, Outcome>;
  try {
    outcomes = await op(ctx);
  } finally {
    await reporter.close();
  }
  if (output.json) {
    const services = [...outcomes].map(([name, o]) => ({ name, ok: o.ok, skipped: o.skipped ?? false, message: o.message }));
    console.log(JSON.stringify({ services }));
  }
  const all = [...outcomes.values()];
  const failed = all.filter((o) => !o.ok && !o.skipped).length;
  const skipped = all.filter((o) => o.skipped).length;
  if (failed + skipped > 0) {
    const of = `of ${outcomes.size} service${outcomes.size === 1 ? "" : "s"}`;
    throw new BatchFailure(`${verb}: ${failed} ${of} failed${skipped ? `, ${skipped} skipped` : ""}`);
  }
}
