// `sv watch`: the reconciler as a loop. Ends are noticed through the backends' exit watchers (local:
// one pidfd per running unit, all in one poll(2) every 10 ms); probes run on each check's own interval.
import type { ExitWatcher, Handle } from "../backends/backend.ts";
import { readState, type StoreState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { nextScheduledStart, reconcilePass, type Report } from "./reconcile.ts";
import { serviceOf } from "./units.ts";

/** How often the liveness of running units is checked. */
export const LIVENESS_TICK_MS = 10;

export interface WatchOptions {
  /** Full passes (probes due, state re-read) at least this often. */
  intervalMs: number;
  /** Receives every line the reconciler reports. */
  report: Report;
  /** Called after every pass with the state it ended with. */
  onState?: (state: StoreState) => void;
  signal: AbortSignal;
}

/** One exit watcher per backend that has one. */
function exitWatchers(ctx: Ctx): Map<string, ExitWatcher> {
  const out = new Map<string, ExitWatcher>();
  for (const b of ctx.backends.all) if (b.exitWatcher) out.set(b.kind, b.exitWatcher());
  return out;
}

/** Run until `signal` aborts. Work in flight is left to finish on its own (services are detached). */
export async function watchLoop(ctx: Ctx, opts: WatchOptions): Promise<void> {
  const busy = new Map<string, Promise<void>>();
  const lastProbe = new Map<string, number>();
  const watchers = exitWatchers(ctx);
  let nextDue: number | null = null;
  /** Take a new state: the running units to watch, and when the next scheduled restart is due. */
  const setState = (s: StoreState) => {
    const targets = new Map<string, Map<string, Handle>>();
    for (const [name, unit] of Object.entries(s.units)) {
      if (unit.state !== "running" || unit.handle === null) continue;
      const byKind = targets.get(unit.handle.kind) ?? new Map<string, Handle>();
      byKind.set(name, unit.handle);
      targets.set(unit.handle.kind, byKind);
    }
    for (const [kind, w] of watchers) w.sync(targets.get(kind) ?? new Map());
    nextDue = nextScheduledStart(ctx, s);
    opts.onState?.(s);
  };
  setState(readState(ctx.paths));
  // Two slots: a slow probing pass must not delay the reaction to a crash.
  const running: { full: Promise<void> | null; fast: Promise<void> | null } = { full: null, fast: null };
  let nextFull = 0;

  const probeIf = (unit: string) => {
    const svc = ctx.project.services.get(serviceOf(unit));
    const now = Date.now();
    if (!svc || now - (lastProbe.get(unit) ?? 0) < svc.healthCheck.intervalMs) return false;
    lastProbe.set(unit, now);
    return true;
  };
  const refreshState = () => setState(readState(ctx.paths));
  const pass = (slot: "full" | "fast") => {
    running[slot] ??= reconcilePass(ctx, opts.report, {
      busy: new Set(busy.keys()),
      probeIf: slot === "full" ? probeIf : () => false,
      track: (unit, work) => {
        busy.set(unit, work);
        work.finally(() => {
          busy.delete(unit);
          refreshState();
        });
      },
    })
      .then(setState)
      .catch((e: Error) => opts.report(`watch: ${e.message}`))
      .finally(() => (running[slot] = null));
  };
  const ended = () => [...watchers.values()].some((w) => w.ended().some((u) => !busy.has(u)));

  while (!opts.signal.aborted) {
    const now = Date.now();
    if (now >= nextFull && !running.full) {
      nextFull = now + opts.intervalMs;
      pass("full");
    } else if (!running.fast && ((nextDue !== null && nextDue <= now) || ended())) pass("fast");
    await Bun.sleep(LIVENESS_TICK_MS);
  }
  await Promise.all([running.full, running.fast]);
  for (const w of watchers.values()) w.close();
}
