// `sv watch`: the reconciler as a loop that sleeps until something is due. Ends are noticed through the
// backends' exit watchers (local: a pidfd per running unit in Bun's event loop), which wake it at once;
// otherwise it wakes for the next scheduled restart or the next full pass (probes due, state re-read).
import type { ExitWatcher, Handle } from "../backends/backend.ts";
import { readState, type StoreState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { nextScheduledStart, reconcilePass, type Report } from "./reconcile.ts";
import { serviceOf } from "./units.ts";

/** A due restart that a pass left due (someone else holds it) is tried again no sooner than this. */
export const RETRY_DUE_MS = 10;

export interface WatchOptions {
  /** Full passes (probes due, state re-read) at least this often. */
  intervalMs: number;
  /** Receives every line the reconciler reports. */
  report: Report;
  /** Called after every pass with the state it ended with. */
  onState?: (state: StoreState) => void;
  signal: AbortSignal;
}

/** One exit watcher per backend that has one, each calling `onEnd` when a unit it watches ends. */
function exitWatchers(ctx: Ctx, onEnd: () => void): Map<string, ExitWatcher> {
  const out = new Map<string, ExitWatcher>();
  for (const b of ctx.backends.all) if (b.exitWatcher) out.set(b.kind, b.exitWatcher(onEnd));
  return out;
}

/** Run until `signal` aborts. Work in flight is left to finish on its own (services are detached). */
export async function watchLoop(ctx: Ctx, opts: WatchOptions): Promise<void> {
  const busy = new Map<string, Promise<void>>();
  const lastProbe = new Map<string, number>();

  // Wake-ups: anything that may make a pass due (an end, a pass or a unit's work settling, a new state, abort).
  let poked = false;
  let wake: (() => void) | null = null;
  const poke = () => {
    poked = true;
    wake?.();
  };
  /** Until `until` (epoch ms) or the next poke, whichever is first. */
  const sleepUntil = (until: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      wake = done;
    });
  opts.signal.addEventListener("abort", poke);

  const watchers = exitWatchers(ctx, poke);
  let nextDue: number | null = null;
  /** Each watched unit's handle (as a key), so an end already acted on is told apart from the next one. */
  let watchedAs = new Map<string, string>();
  let current: StoreState | null = null;
  /** Take a new state: the running units to watch, and when the next scheduled restart is due. */
  const setState = (s: StoreState) => {
    current = s;
    const targets = new Map<string, Map<string, Handle>>();
    watchedAs = new Map();
    for (const [name, unit] of Object.entries(s.units)) {
      if (unit.state !== "running" || unit.handle === null) continue;
      const byKind = targets.get(unit.handle.kind) ?? new Map<string, Handle>();
      byKind.set(name, unit.handle);
      targets.set(unit.handle.kind, byKind);
      watchedAs.set(name, `${name} ${JSON.stringify(unit.handle)}`);
    }
    for (const [kind, w] of watchers) w.sync(targets.get(kind) ?? new Map());
    // A unit with work in flight is not due (that work decides), and neither is what waits for it.
    const idle = Object.fromEntries(Object.entries(s.units).filter(([name]) => !busy.has(name)));
    nextDue = nextScheduledStart(ctx, { ...s, units: idle });
    opts.onState?.(s);
    poke();
  };
  setState(readState(ctx.paths));
  // Two slots: a slow probing pass must not delay the reaction to a crash.
  const running: { full: Promise<void> | null; fast: Promise<void> | null } = { full: null, fast: null };
  let nextFull = 0;
  let retryDueAt = 0;
  /** Ends a fast pass was already run for (unit and handle): not a reason for another until a full pass. */
  const tried = new Set<string>();

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
      busy: slot === "full" ? new Set(busy.keys()) : outOfFocus(),
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
      .catch((e: Error) => opts.report({ text: `watch: ${e.message}`, level: "error" }))
      .finally(() => {
        running[slot] = null;
        if (slot === "fast" && nextDue !== null && nextDue <= Date.now()) retryDueAt = Date.now() + RETRY_DUE_MS;
        poke();
      });
  };
  /**
   * What a fast pass leaves alone: units with work in flight, and every unit that neither ended nor is
   * due to restart (the next full pass looks at those), so the reaction to a crash does not wait for
   * every other unit to be inspected.
   */
  const outOfFocus = () => {
    const out = new Set(busy.keys());
    const ended = new Set([...watchers.values()].flatMap((w) => w.ended()));
    const now = Date.now();
    for (const [name, unit] of Object.entries(current?.units ?? {})) {
      const due = unit.state === "restarting" && unit.next_restart_at !== null && Date.parse(unit.next_restart_at) <= now;
      if (!ended.has(name) && !due) out.add(name);
    }
    return out;
  };
  /** Ends not yet acted on, of units with no work in flight. */
  const freshEnds = () => {
    const out: string[] = [];
    for (const w of watchers.values()) {
      for (const u of w.ended()) {
        const key = watchedAs.get(u) ?? u;
        if (!busy.has(u) && !tried.has(key)) out.push(key);
      }
    }
    return out;
  };

  while (!opts.signal.aborted) {
    poked = false;
    const now = Date.now();
    if (now >= nextFull && !running.full) {
      nextFull = now + opts.intervalMs;
      tried.clear();
      pass("full");
      continue; // and, in the same turn, the fast slot: a full pass may be slow (probes)
    }
    if (!running.fast) {
      const ends = freshEnds();
      if (ends.length > 0 || (nextDue !== null && nextDue <= now && now >= retryDueAt)) {
        for (const key of ends) tried.add(key);
        pass("fast");
      }
    }
    if (poked) continue;
    let until = now + opts.intervalMs;
    if (!running.full) until = Math.min(until, nextFull);
    if (!running.fast && nextDue !== null) until = Math.min(until, Math.max(nextDue, retryDueAt));
    await sleepUntil(until);
  }
  opts.signal.removeEventListener("abort", poke);
  await Promise.all([running.full, running.fast]);
  for (const w of watchers.values()) w.close();
}
