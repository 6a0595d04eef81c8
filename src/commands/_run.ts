// Shared tail of the batch commands: run with a progress reporter, print JSON, fail if any failed; a
// signal ends the wait cleanly (what was started or stopped stays recorded) with the shell's exit code.
import { BatchFailure, Interrupted } from "../errors.ts";
import { type Ctx, openContext, type Phase } from "../engine/context.ts";
import type { Outcome } from "../engine/orchestrate.ts";
import { logger } from "../output/logger.ts";
import { createReporter } from "../output/progress.ts";
import { output } from "../output/style.ts";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Open the project, run `op` under a progress reporter, then report the per-service outcomes. */
export async function runBatch(
  args: { root?: string; "wait-lock"?: boolean },
  verb: string,
  op: (ctx: Ctx) => Promise<Map<string, Outcome>>,
  opts: { fromStore?: boolean } = {},
): Promise<void> {
  const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], fromStore: opts.fromStore });
  if (ctx.configError) logger.warn(`the configuration cannot be loaded (${ctx.configError}); working from what the store recorded`);
  const reporter = await createReporter();
  // What is in flight, to say what a signal leaves doing.
  const phases = new Map<string, Phase>();
  ctx.reporter = { ...reporter, update: (s, phase, message) => (phases.set(s, phase), reporter.update(s, phase, message)), warn: (m) => reporter.warn(m) };
  let outcomes: Map<string, Outcome>;
  let onSignal: ((sig: NodeJS.Signals) => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    onSignal = (sig) => reject(interruption(sig, verb, phases));
  });
  for (const sig of SIGNALS) process.on(sig, onSignal!);
  try {
    outcomes = await Promise.race([op(ctx), interrupted]);
  } finally {
    for (const sig of SIGNALS) process.off(sig, onSignal!);
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

/** The error for a signal: which services were left starting or stopping, and what happens to them. */
function interruption(sig: NodeJS.Signals, verb: string, phases: Map<string, Phase>): Interrupted {
  const starting = [...phases].filter(([, p]) => p === "starting").map(([s]) => s);
  const stopping = [...phases].filter(([, p]) => p === "stopping").map(([s]) => s);
  const parts: string[] = [];
  if (starting.length) parts.push(`${starting.join(", ")} still starting (recorded; sv status shows ${starting.length === 1 ? "it" : "them"})`);
  if (stopping.length) parts.push(`${stopping.join(", ")} still stopping (the next sv finishes the stop)`);
  return new Interrupted(sig, `${verb} interrupted by ${sig}${parts.length ? `: ${parts.join("; ")}` : ""}`, parts.length ? "run sv status to see where they are" : undefined);
}
