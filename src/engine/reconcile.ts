// The watchdog pass shared by `sv reconcile` (cron) and `sv watch`: observe, plan, act — restarting
// several units in dependency order, as `sv up` does.
import type { Condition, Service } from "../config/schema.ts";
import { SvError } from "../errors.ts";
import { readState, type StoreState, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { recordEnd } from "./ended.ts";
import { launchUnit, type UnitResult } from "./launch.ts";
import { isOwnedByOther, refresh, type RefreshOptions } from "./observe.ts";
import { type Action, planUnit } from "./plan.ts";
import { startTimeoutOf } from "./ready.ts";
import { note, type SvEvent, transition } from "./states.ts";
import { claimUnitStop, recordUnitStopped, stopUnit } from "./stop.ts";
import { serviceOf, unitNames } from "./units.ts";

export interface PassOptions extends RefreshOptions {
  /** Units with work in flight (watch): not planned again until it settles. */
  busy?: Set<string>;
  /** Called with each action's promise, so a caller may wait for it (cron) or not (watch). */
  track?: (unit: string, work: Promise<void>) => void;
}

/** One line of reconcile output: what changed or what was done. */
/** One thing a pass did or saw, for a line of text or a JSON log record (--log-format json). */
export interface Said {
  /** The unit it is about (none for the watch itself). */
  unit?: string;
  text: string;
  level?: "info" | "warn" | "error";
  /** A transition's states and reason, where it is one. */
  from?: string;
  to?: string;
  reason?: string;
}
export type Report = (said: Said) => void;

/** `api: running -> restarting (exited with code 3)`: a Said as one line of text. */
export function saidLine(s: Said): string {
  return s.unit === undefined ? s.text : `${s.unit}: ${s.text}`;
}

/** Plan one unit against a record (inside the lock: the guard that keeps two reconcilers apart). */
function replan(ctx: Ctx, svc: Service, unit: Unit): Action | null {
  return planUnit(svc, unit, Date.now(), isOwnedByOther(unit, ctx.self), { startTimeoutMs: startTimeoutOf(ctx, svc) });
}

type Decision = { svc: Service; unit: string; action: Action };

/** One reconcile pass. Returns when every action has been started (and, unless `track` is given, finished). */
export async function reconcilePass(ctx: Ctx, report: Report, opts: PassOptions = {}): Promise<StoreState> {
  const events: SvEvent[] = [];
  const state = await refresh(ctx, undefined, { probeIf: opts.probeIf, events, exclude: opts.busy });
  for (const e of events) report({ unit: e.service, text: e.from === e.to ? e.reason : `${e.from} -> ${e.to} (${e.reason})`, from: e.from, to: e.to, reason: e.reason });

  await rotateLogs(ctx, state, report);
  const decisions: Decision[] = [];
  for (const [name, unit] of Object.entries(state.units)) {
    const svc = ctx.project.services.get(serviceOf(name));
    if (!svc || opts.busy?.has(name)) continue;
    const action = replan(ctx, svc, unit);
    if (action) decisions.push({ svc, unit: name, action });
  }
  if (decisions.length === 0) return state;

  await recordResets(ctx, decisions.filter((d) => d.action.kind === "reset-backoff" || d.action.kind === "settle"), report);
  const work: Promise<void>[] = [];
  // Starts wait for the starts of what they depend on in this pass (dependencies are ordered first).
  const starts = new Map<string, Promise<void>[]>();
  for (const d of orderByDependencies(ctx, decisions)) {
    let job: Promise<void> | undefined;
    if (d.action.kind === "stop") job = stopStray(ctx, d.svc, d.unit, d.action.reason, report);
    else if (d.action.kind === "start" || d.action.kind === "restart") {
      const before = Object.keys(d.svc.dependsOn).flatMap((dep) => starts.get(dep) ?? []);
      job = Promise.allSettled(before).then(() => act(ctx, d, report));
      starts.set(d.svc.name, [...(starts.get(d.svc.name) ?? []), job]);
    }
    if (!job) continue;
    const guarded = job.catch((e: Error) => report({ unit: d.unit, text: e.message, level: "error" }));
    if (opts.track) opts.track(d.unit, guarded);
    else work.push(guarded);
  }
  await Promise.all(work);
  return readState(ctx.paths);
}

/** Decisions with every service after those it depends on (so promises exist before dependents look). */
function orderByDependencies(ctx: Ctx, decisions: Decision[]): Decision[] {
  const rank = new Map<string, number>();
  const depth = (name: string, seen = new Set<string>()): number => {
    if (rank.has(name)) return rank.get(name)!;
    const svc = ctx.project.services.get(name);
    if (!svc || seen.has(name)) return 0;
    seen.add(name);
    const d = Math.max(0, ...Object.keys(svc.dependsOn).map((n) => depth(n, seen) + 1));
    rank.set(name, d);
    return d;
  };
  return [...decisions].sort((a, b) => depth(a.svc.name) - depth(b.svc.name));
}

/** A start or restart, once what it depends on is ready (else it waits for a later pass). */
async function act(ctx: Ctx, d: Decision, report: Report): Promise<void> {
  const blocker = blockedBy(ctx, readState(ctx.paths), d.svc);
  if (blocker) return;
  if (d.action.kind === "start") return startUnit(ctx, d.svc, d.unit, d.action.reason, d.action.restart, report);
  return restartLive(ctx, d.svc, d.unit, d.action.reason, report);
}

/** Is a hard dependency of `svc` not in its condition? Then its starts wait (name of the first such dependency). */
export function blockedBy(ctx: Ctx, state: StoreState, svc: Service): string | null {
  for (const [dep, condition] of Object.entries(svc.dependsOn)) {
    const depSvc = ctx.project.services.get(dep);
    if (!depSvc) continue;
    const units = unitNames(depSvc, state);
    if (units.length === 0 || !units.every((u) => meets(state.units[u], depSvc, condition))) return dep;
  }
  return null;
}

function meets(unit: Unit | undefined, svc: Service, condition: Condition | undefined): boolean {
  if (!unit) return false;
  const wanted = condition ?? (svc.type === "oneshot" ? "completed" : "healthy");
  if (wanted === "started") return unit.state === "running" || unit.state === "starting" || unit.state === "completed";
  if (wanted === "completed") return unit.state === "completed";
  return (unit.state === "running" && unit.health !== "unhealthy") || (unit.state === "completed" && svc.type !== "simple");
}

/** Rotate every unit's log that outgrew its service's log.max_size (copy-truncate: writers keep their fd). */
async function rotateLogs(ctx: Ctx, state: StoreState, report: Report): Promise<void> {
  const rotations = [...ctx.project.services.values()].flatMap((svc) => {
    const logs = ctx.backends.for(svc).logs;
    return unitNames(svc, state).map(async (unit) => {
      // A log on a host that does not answer is rotated on a later pass.
      const bytes = await Promise.resolve(logs.rotate(unit, svc.log.maxSizeBytes, svc.log.keep)).catch((e) => (e instanceof SvError ? 0 : Promise.reject(e)));
      if (bytes > 0) report({ unit, text: `log rotated (${bytes < 1 << 20 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`})` });
    });
  });
  await Promise.all(rotations);
}

/** Under one lock: backoff resets and settled restarts, each re-checked against the fresh record. */
async function recordResets(ctx: Ctx, decisions: Decision[], report: Report): Promise<void> {
  if (decisions.length === 0) return;
  const lines = await commit(ctx, (tx) => {
    const out: Said[] = [];
    for (const d of decisions) {
      const unit = tx.unit(d.unit);
      const action = replan(ctx, d.svc, unit);
      if (action?.kind !== d.action.kind) continue;
      if (action.kind === "reset-backoff") {
        unit.failures = 0;
        tx.events.push(note(d.unit, unit, "stayed up; backoff reset"));
      } else if (action.kind === "settle") {
        unit.next_restart_at = null;
        tx.events.push(transition(d.unit, unit, unit.last_error === null ? "stopped" : "error", action.reason));
        out.push({ unit: d.unit, text: action.reason, to: unit.state, reason: action.reason });
      }
    }
    return out;
  });
  for (const l of lines) report(l);
}

/** (Re)start a unit the planner says is due, unless someone else got there first. */
async function startUnit(ctx: Ctx, svc: Service, unitName: string, reason: string, countRestart: boolean, report: Report): Promise<void> {
  const events: SvEvent[] = [];
  const result: UnitResult | null = await launchUnit(ctx, svc, unitName, {
    reason,
    countRestart,
    // Said once the claim holds: two passes racing for one restart print it once.
    guard: (u) => {
      const due = replan(ctx, svc, u)?.kind === "start";
      if (due) report({ unit: unitName, text: reason });
      return due;
    },
    events,
  });
  if (result === null) return;
  report(result.to === "failed" ? { unit: unitName, text: `start failed: ${result.reason}`, level: "error", reason: result.reason } : { unit: unitName, text: `${result.to} (${result.reason})`, to: result.to, reason: result.reason });
  // Giving up is decided where the failure is recorded: say so, or the cron mail never tells.
  for (const e of events) if (e.to === "error" && e.reason !== result.reason) report({ unit: unitName, text: e.reason, level: "error", from: e.from, to: e.to, reason: e.reason });
}

/**
 * Unhealthy (or never ready) and restartable: stop it (a failure for the backoff), then let the policy start
 * it again. The unit keeps its state while it is stopped, owned by us (so no other sv judges it meanwhile),
 * and its end is recorded like any other: running -> restarting (or error), naming the process stopped.
 */
async function restartLive(ctx: Ctx, svc: Service, unitName: string, reason: string, report: Report): Promise<void> {
  const claim = await commit(ctx, (tx) => {
    const unit = tx.unit(unitName);
    if (replan(ctx, svc, unit)?.kind !== "restart" || unit.handle === null) return null;
    unit.owner_pid = ctx.self.pid;
    unit.owner_ticks = ctx.self.ticks;
    return { unit: unitName, handle: unit.handle, state: unit.state, signal: svc.stopSignal, timeoutMs: svc.stopTimeoutMs };
  });
  if (!claim) return;
  report({ unit: unitName, text: `${reason}; restarting`, level: "warn", reason });
  // A stop like any other: pre_stop/post_stop run around it (e.g. to leave a load balancer first).
  await stopUnit(ctx, svc, claim);
  const due = await commit(ctx, (tx) => {
    const fresh = tx.unit(unitName);
    // Someone took it over meanwhile (sv down claims it as stopping): theirs to record.
    if (fresh.state !== claim.state || fresh.owner_pid !== ctx.self.pid || JSON.stringify(fresh.handle) !== JSON.stringify(claim.handle)) return null;
    recordEnd(tx, svc, unitName, { clean: false, reason: `${reason}; stopped for a restart` });
    return replan(ctx, svc, fresh);
  });
  if (due?.kind === "start") await startUnit(ctx, svc, unitName, due.reason, due.restart, report);
}

/** Stop a unit that is not wanted up (or whose stopping sv died), claiming it first. */
async function stopStray(ctx: Ctx, svc: Service, unitName: string, reason: string, report: Report): Promise<void> {
  const claim = await commit(ctx, (tx) => (replan(ctx, svc, tx.unit(unitName))?.kind === "stop" ? claimUnitStop(ctx, tx, unitName, reason) : null));
  if (!claim) return;
  report({ unit: unitName, text: `stopping (${reason})`, to: "stopping", reason });
  const r = await stopUnit(ctx, svc, claim);
  await commit(ctx, (tx) => recordUnitStopped(tx, r));
}

/**
 * When the planner will next start a unit whose restart is scheduled (epoch ms), or null. Asks the
 * planner, so a schedule it would ignore (policy changed to "no", service removed) is not waited for;
 * a unit whose dependency is not ready waits for that dependency, not for its own schedule.
 */
export function nextScheduledStart(ctx: Ctx, state: StoreState): number | null {
  let next: number | null = null;
  for (const [name, unit] of Object.entries(state.units)) {
    const svc = ctx.project.services.get(serviceOf(name));
    if (unit.next_restart_at === null || !svc || unit.state !== "restarting") continue;
    const at = Date.parse(unit.next_restart_at);
    if (planUnit(svc, unit, Math.max(at, Date.now()), isOwnedByOther(unit, ctx.self))?.kind !== "start") continue;
    if (blockedBy(ctx, state, svc)) continue;
    next = Math.min(next ?? Infinity, at);
  }
  return next;
}

/** Every wanted-up unit that is not running and healthy (oneshots: completed): the reconcile exit status. */
export function unhealthyWanted(ctx: Ctx, state: StoreState): string[] {
  const bad: string[] = [];
  for (const [name, unit] of Object.entries(state.units)) {
    const svc = ctx.project.services.get(serviceOf(name));
    if (!svc || unit.wanted !== "up") continue;
    const unknown = ctx.unknown.get(name);
    if (unknown) {
      bad.push(`${name} is unknown (${unknown.where} unreachable since ${unknown.since})`);
      continue;
    }
    // A unit that completed (exited 0) and that its policy leaves alone is done, not failing.
    const fine = (unit.state === "running" && unit.health !== "unhealthy") || unit.state === "completed";
    if (!fine) bad.push(`${name} is ${unit.state}${unit.state === "running" ? ` (${unit.health})` : ""}`);
  }
  return bad;
}
