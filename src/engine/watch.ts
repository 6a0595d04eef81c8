// `sv watch`: the reconciler as a loop. A fast liveness check (a /proc read per unit) notices crashes
// within milliseconds, since the services are not our children; probes run on each check's own interval.
import { isSameProcess } from "../runtime/identity.ts";
import { readState, type StoreState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { reconcilePass, type Report } from "./reconcile.ts";
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

/** Run until `signal` aborts. Work in flight is left to finish on its own (services are detached). */
export async function watchLoop(ctx: Ctx, opts: WatchOptions): Promise<void> {
  const busy = new Map<string, Promise<void>>();
  const lastProbe = new Map<string, number>();
  let state = readState(ctx.paths);
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
  const refreshState = () => {
    state = readState(ctx.paths);
    opts.onState?.(state);
  };
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
      .then((s) => {
        state = s;
        opts.onState?.(s);
      })
      .catch((e: Error) => opts.report(`watch: ${e.message}`))
      .finally(() => (running[slot] = null));
  };

  while (!opts.signal.aborted) {
    const now = Date.now();
    if (now >= nextFull && !running.full) {
      nextFull = now + opts.intervalMs;
      pass("full");
    } else if (!running.fast && needsPass(state, busy, now)) pass("fast");
    await Bun.sleep(LIVENESS_TICK_MS);
  }
  await Promise.all([running.full, running.fast]);
}

/** A unit we think is up has died, or a scheduled restart is due. */
function needsPass(state: StoreState, busy: Map<string, unknown>, now: number): boolean {
  for (const [name, unit] of Object.entries(state.units)) {
    if (busy.has(name)) continue;
    if (unit.state === "running" && !isSameProcess(unit.pid, unit.start_ticks)) return true;
    if (unit.next_restart_at !== null && unit.wanted === "up" && Date.parse(unit.next_restart_at) <= now) return true;
  }
  return false;
}
