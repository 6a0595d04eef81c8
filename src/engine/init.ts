// `sv init`: a container's entrypoint. Up like `sv up`, then supervise like `sv watch` until a stop is asked
// for (a signal) or an essential service ends for good; a reload (SIGHUP) applies definition changes between.
// The stop takes every service down in reverse dependency order within one budget (docker stop waits 10 s
// before its SIGKILL), then SIGKILLs what is left. The OS side (signals, reaping, killing strays) is the
// caller's: it pushes requests into an InitControl and passes killStrays.
import type { Service } from "../config/schema.ts";
import { resolveNames, withDependencies } from "../config/project.ts";
import { readState, type StoreState } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { essentialEnd, type EssentialEnd } from "./essential.ts";
import type { Outcome } from "./orchestrate.ts";
import type { Report } from "./reconcile.ts";
import { startServices } from "./start.ts";
import { transition } from "./states.ts";
import { type StopResult, stopServices } from "./stop.ts";
import { unitNames } from "./units.ts";
import { watchLoop } from "./watch.ts";

/** Kept back from the budget for the SIGKILL of what is left, and recording it. */
const KILL_RESERVE_MS = 500;
/** The least a service gets between its stop signal and SIGKILL, however little is left of the budget. */
const MIN_GRACE_MS = 100;
/** After a forced kill, the least time the stop in flight gets to record what it stopped (else: what is left of the budget). */
const RECORD_GRACE_MS = 50;

export type InitRequest =
  /** SIGTERM, SIGINT, SIGQUIT: stop everything and exit. A second one while stopping is `force`. */
  | { kind: "stop"; signal: string }
  /** SIGHUP: reload the configuration, recreate changed units. */
  | { kind: "reload" }
  /** Skip what is left of the stop budget: SIGKILL now. */
  | { kind: "force" };

/** What ends supervision: a request, an essential service's end, or a failure of the watch itself. */
type Ending = InitRequest | { kind: "essential"; end: EssentialEnd } | { kind: "failed"; why: string };

/** Requests for a running init, in arrival order. */
export class InitControl {
  private queue: Ending[] = [];
  private wake: (() => void) | null = null;

  push(req: Ending): void {
    this.queue.push(req);
    this.wake?.();
  }

  /** Resolves once a request is waiting. */
  ready(): Promise<void> {
    if (this.queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
    });
  }

  take() {
    return this.queue.shift();
  }
}

export interface InitOptions {
  /** The services named on the command line (default: all but on-demand). */
  names: string[];
  /** From the stop request to the SIGKILL of what is left. */
  stopBudgetMs: number;
  /** The watch's full passes (probes, state re-read) at least this often. */
  intervalMs: number;
  control: InitControl;
  /** What init and the watch say (transitions, restarts, the stop). */
  report: Report;
  /** Every state the watch ends a pass with, and the context it works in (a reload makes a new one). */
  onState?(ctx: Ctx, state: StoreState): void;
  /** A new context from the configuration as it is now (SIGHUP). */
  reload(): Promise<Ctx>;
  /** SIGKILL every process left outside the units (orphans, escaped groups), for up to `timeoutMs`. */
  killStrays(timeoutMs: number): Promise<void>;
}

export interface InitResult {
  exitCode: number;
  /** Why it ended, in words. */
  reason: string;
}

/** The services init brings up (and, at the end, stops): the named ones and their dependencies, or all. */
function targetsOf(ctx: Ctx, names: string[]): Service[] {
  const wanted = names.length > 0 ? [...withDependencies(ctx.project, resolveNames(ctx.project, names))] : [...ctx.project.services.keys()];
  return wanted.map((n) => ctx.project.services.get(n)!);
}

/**
 * Under the lock, once per session: units that completed in an earlier one go back to stopped, so this one runs
 * them again (a container's start is a boot: its oneshots run, and an essential one that completed last time does
 * not end this one at once); and claims recorded by an earlier sv with our pid (PID 1 again, after a container
 * restart) but another start time are dropped, or they would pass for ours.
 */
async function beginSession(ctx: Ctx, services: Service[]): Promise<void> {
  const completed = (state: StoreState) => services.flatMap((svc) => unitNames(svc, state).filter((u) => state.units[u]?.state === "completed"));
  const stale = (state: StoreState) => Object.keys(state.units).filter((u) => state.units[u]!.owner_pid === ctx.self.pid && state.units[u]!.owner_ticks !== ctx.self.ticks);
  const before = readState(ctx.paths);
  if (completed(before).length === 0 && stale(before).length === 0) return;
  await commit(ctx, (tx) => {
    for (const name of stale(tx.state)) tx.unit(name).owner_pid = tx.unit(name).owner_ticks = null;
    for (const name of completed(tx.state)) tx.events.push(transition(name, tx.unit(name), "stopped", "sv init: a new session runs it again"));
  });
}

/** Supervise until a stop request or an essential service's end; the exit code. */
export async function runInit(first: Ctx, opts: InitOptions): Promise<InitResult> {
  let ctx = first;
  let services = targetsOf(ctx, opts.names);
  const { control } = opts;
  await beginSession(ctx, services);

  /** Run `op` until it settles or a stop is asked for; reloads asked for meanwhile are kept for later. */
  let reloadAsked = false;
  const untilStop = async (op: Promise<unknown>): Promise<{ stop: Ending } | null> => {
    let settled = false;
    let error: Error | null = null;
    const done = op.then(
      () => void (settled = true),
      (e: Error) => {
        settled = true;
        error = e;
      },
    );
    for (;;) {
      await Promise.race([done, control.ready()]);
      if (error) return { stop: { kind: "failed", why: (error as Error).message } };
      if (settled) return null;
      const req = control.take()!;
      if (req.kind === "reload") reloadAsked = true;
      else return { stop: req };
    }
  };

  const up = (c: Ctx, removeOrphans: boolean) => startServices(c, opts.names, { removeOrphans });
  let stop = (await untilStop(up(ctx, false)))?.stop;

  while (!stop) {
    if (reloadAsked) {
      reloadAsked = false;
      try {
        const next = await opts.reload();
        services = targetsOf(next, opts.names);
        ctx = next;
        opts.report({ text: "sv init: configuration reloaded; recreating what changed" });
        stop = (await untilStop(up(ctx, true)))?.stop;
        // A reload that could not be applied (the store, an engine) leaves the rest supervised.
        if (stop?.kind === "failed") {
          opts.report({ text: `sv init: reload: ${stop.why}`, level: "error" });
          stop = undefined;
        }
        continue;
      } catch (e) {
        opts.report({ text: `sv init: reload failed, keeping the running configuration: ${(e as Error).message}`, level: "error" });
      }
    }
    const abort = new AbortController();
    const watching = ctx;
    const watchServices = services;
    let ended = false;
    const loop = watchLoop(watching, {
      intervalMs: opts.intervalMs,
      report: opts.report,
      signal: abort.signal,
      onState: (s) => {
        opts.onState?.(watching, s);
        const end = ended ? null : essentialEnd(watchServices, s);
        if (end) {
          ended = true;
          control.push({ kind: "essential", end });
        }
      },
    });
    // The watch ends only when told to: if it fails (the store cannot be read), supervision is over.
    const failed = loop.then(
      () => null,
      (e: Error) => e,
    );
    const broken = await Promise.race([control.ready().then(() => null), failed]);
    if (broken) {
      stop = { kind: "failed", why: `supervision failed: ${broken.message}` };
      break;
    }
    const req = control.take()!;
    abort.abort();
    await failed;
    if (req.kind === "reload") reloadAsked = true;
    else stop = req;
  }

  const why = stop.kind === "essential" ? stop.end.why : stop.kind === "stop" ? `${stop.signal} received` : stop.kind === "failed" ? stop.why : "asked to stop at once";
  opts.report({ text: `sv init: ${why}: stopping everything (within ${opts.stopBudgetMs} ms)`, level: stop.kind === "failed" ? "error" : "info" });
  const clean = await stopAll(ctx, services, opts, stop.kind === "force");
  if (stop.kind === "essential") return { exitCode: stop.end.exitCode, reason: why };
  if (stop.kind === "failed") return { exitCode: 1, reason: why };
  return clean ? { exitCode: 0, reason: `${why}; everything stopped` } : { exitCode: 1, reason: `${why}; not everything stopped cleanly` };
}

/**
 * A view of `ctx` whose services' stop_timeout never reaches past `deadline`: each level of the ordered stop
 * (claimed when it begins) gets what is left of the budget, and a service that ignores its stop signal is
 * SIGKILLed in time for those after it to be stopped too.
 */
function withStopDeadline(ctx: Ctx, deadline: number): Ctx {
  const services = new Map<string, Service>();
  for (const [name, svc] of ctx.project.services) {
    const view = { ...svc };
    Object.defineProperty(view, "stopTimeoutMs", { enumerable: true, get: () => Math.min(svc.stopTimeoutMs, Math.max(MIN_GRACE_MS, deadline - Date.now())) });
    services.set(name, view);
  }
  return { ...ctx, project: { ...ctx.project, services } };
}

/** Stop every target (and what depends on it) within the budget, then SIGKILL what is left. True when all stopped cleanly. */
async function stopAll(ctx: Ctx, services: Service[], opts: InitOptions, forceNow: boolean): Promise<boolean> {
  const deadline = Date.now() + opts.stopBudgetMs;
  const all = services.length === ctx.project.services.size;
  // Everything, orphans too, when init runs the whole project; else what it brought up.
  const stopping = stopServices(withStopDeadline(ctx, deadline - KILL_RESERVE_MS), all ? [] : services.map((s) => s.name));
  let outcomes: Map<string, Outcome> | null = null;
  let failed = false;
  const finished = stopping.then(
    (o) => void (outcomes = o),
    (e: Error) => {
      failed = true;
      opts.report({ text: `sv init: stop: ${e.message}`, level: "error" });
    },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Half the reserve after the last service's SIGKILL was due: the stop is stuck (a hook, an engine); kill it all.
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), Math.max(0, deadline - KILL_RESERVE_MS / 2 - Date.now()))));
  const forced = (async () => {
    if (forceNow) return "force" as const;
    for (;;) {
      await opts.control.ready();
      const req = opts.control.take();
      if (req?.kind === "stop" || req?.kind === "force") return "force" as const;
    }
  })();
  const first = await Promise.race([finished.then(() => "done" as const), late, forced]);
  clearTimeout(timer);
  let clean = first === "done" && !failed;
  if (first !== "done") {
    opts.report({ text: first === "late" ? "sv init: the stop budget is spent: SIGKILL to what is left" : "sv init: asked again: SIGKILL to what is left", level: "warn" });
    await killUnits(ctx);
    await opts.killStrays(KILL_RESERVE_MS / 2);
    await Promise.race([finished, Bun.sleep(Math.max(RECORD_GRACE_MS, deadline - Date.now()))]);
  } else {
    // Orphans that left their service's process group (setsid) outlive its stop: they go now.
    await opts.killStrays(Math.max(50, Math.min(KILL_RESERVE_MS, deadline - Date.now())));
  }
  const results: Map<string, Outcome> = outcomes ?? new Map();
  for (const o of results.values()) if (!o.ok || ((o.data as StopResult[] | undefined) ?? []).some((r) => r.forced)) clean = false;
  return clean;
}

/** SIGKILL every unit the store still records as live, through its backend. */
async function killUnits(ctx: Ctx): Promise<void> {
  const state = readState(ctx.paths);
  await Promise.all(
    Object.entries(state.units)
      .filter(([, u]) => u.handle !== null && (u.state === "running" || u.state === "starting" || u.state === "stopping"))
      .map(([name, u]) =>
        ctx.backends
          .of(u.handle!)
          .kill(name, u.handle!)
          .catch((e: Error) => ctx.reporter.warn(`${name}: ${e.message}`)),
      ),
  );
}
