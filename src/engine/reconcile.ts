// The watchdog pass shared by `sv reconcile` (cron) and `sv watch`: observe, plan, act.
import type { Service } from "../config/schema.ts";
import { isSameProcess } from "../runtime/identity.ts";
import { readState, type StoreState, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { launchUnit, type UnitResult } from "./launch.ts";
import { isOwnedByOther, refresh, type RefreshOptions } from "./observe.ts";
import { type Action, planUnit } from "./plan.ts";
import { note, type SvEvent, transition } from "./states.ts";
import { claimUnitStop, recordUnitStopped, stopUnit } from "./stop.ts";
import { serviceOf, unitNames } from "./units.ts";
import { logFile } from "../paths.ts";
import { rotateLog } from "../runtime/logs/rotate.ts";

export interface PassOptions extends RefreshOptions {
  /** Units with work in flight (watch): not planned again until it settles. */
  busy?: Set<string>;
  /** Called with each action's promise, so a caller may wait for it (cron) or not (watch). */
  track?: (unit: string, work: Promise<void>) => void;
}

/** One line of reconcile output: what changed or what was done. */
export type Report = (line: string) => void;

/** Plan one unit against a fresh record (inside the lock) — the guard that keeps two reconcilers apart. */
function replan(ctx: Ctx, svc: Service, unit: Unit): Action | null {
  return planUnit(svc, unit, Date.now(), isOwnedByOther(unit, ctx.self));
}

/** One reconcile pass. Returns when every action has been started (and, unless `track` is given, finished). */
export async function reconcilePass(ctx: Ctx, report: Report, opts: PassOptions = {}): Promise<StoreState> {
  const events: SvEvent[] = [];
  const state = await refresh(ctx, undefined, { probeIf: opts.probeIf, events, exclude: opts.busy });
  for (const e of events) report(`${e.service}: ${e.from === e.to ? e.reason : `${e.from} -> ${e.to} (${e.reason})`}`);

  rotateLogs(ctx, state, report);
  const now = Date.now();
  const decisions: { svc: Service; unit: string; action: Action }[] = [];
  for (const [name, unit] of Object.entries(state.units)) {
    const svc = ctx.project.services.get(serviceOf(name));
    if (!svc || opts.busy?.has(name)) continue;
    const action = planUnit(svc, unit, now, isOwnedByOther(unit, ctx.self));
    if (action) decisions.push({ svc, unit: name, action });
  }
  if (decisions.length === 0) return state;

  await recordDecisions(ctx, decisions.filter((d) => ["schedule", "give-up", "reset-backoff"].includes(d.action.kind)), report);
  const work: Promise<void>[] = [];
  for (const d of decisions) {
    let job: Promise<void> | undefined;
    if (d.action.kind === "start") job = startUnit(ctx, d.svc, d.unit, d.action.reason, d.action.restart, report);
    else if (d.action.kind === "restart") job = restartUnhealthy(ctx, d.svc, d.unit, d.action.reason, report);
    else if (d.action.kind === "stop") job = stopStray(ctx, d.svc, d.unit, d.action.reason, report);
    if (!job) continue;
    const guarded = job.catch((e: Error) => report(`${d.unit}: ${e.message}`));
    if (opts.track) opts.track(d.unit, guarded);
    else work.push(guarded);
  }
  await Promise.all(work);
  return readState(ctx.paths);
}

/** Rotate every unit's log that outgrew its service's log.max_size (copy-truncate: writers keep their fd). */
function rotateLogs(ctx: Ctx, state: StoreState, report: Report): void {
  for (const svc of ctx.project.services.values()) {
    for (const unit of unitNames(svc, state)) {
      const r = rotateLog(logFile(ctx.paths, unit), svc.log.maxSizeBytes, svc.log.keep);
      if (r.rotated) report(`${unit}: log rotated (${r.bytes < 1 << 20 ? `${Math.ceil(r.bytes / 1024)} KiB` : `${(r.bytes / (1 << 20)).toFixed(1)} MiB`})`);
    }
  }
}

/** Under one lock: backoff schedules, give-ups and resets, each re-checked against the fresh record. */
async function recordDecisions(ctx: Ctx, decisions: { svc: Service; unit: string; action: Action }[], report: Report): Promise<void> {
  if (decisions.length === 0) return;
  const lines = await commit(ctx, (tx) => {
    const out: string[] = [];
    for (const d of decisions) {
      const unit = tx.unit(d.unit);
      const action = replan(ctx, d.svc, unit);
      if (action?.kind !== d.action.kind) continue;
      if (action.kind === "schedule") unit.next_restart_at = new Date(action.at).toISOString();
      else if (action.kind === "give-up") unit.gave_up_at = new Date().toISOString();
      else if (action.kind === "reset-backoff") unit.failures = 0;
      tx.events.push(note(d.unit, unit, action.reason));
      if (action.kind !== "reset-backoff") out.push(`${d.unit}: ${action.reason}`);
    }
    return out;
  });
  for (const l of lines) report(l);
}

/** (Re)start a unit the planner says is due, unless someone else got there first. */
async function startUnit(ctx: Ctx, svc: Service, unitName: string, reason: string, countRestart: boolean, report: Report): Promise<void> {
  report(`${unitName}: ${reason}`);
  const result: UnitResult | null = await launchUnit(ctx, svc, unitName, {
    reason,
    countRestart,
    guard: (u) => replan(ctx, svc, u)?.kind === "start",
  });
  if (result === null) return;
  report(result.to === "error" ? `${unitName}: start failed: ${result.reason}` : `${unitName}: ${result.to} (${result.reason})`);
}

/** Unhealthy and restartable: stop it (a failure for the backoff), then let the policy start it again. */
async function restartUnhealthy(ctx: Ctx, svc: Service, unitName: string, reason: string, report: Report): Promise<void> {
  const unit = readState(ctx.paths).units[unitName];
  if (!unit?.pid || unit.start_ticks === null) return;
  const { pid, start_ticks: ticks } = unit;
  report(`${unitName}: ${reason}; restarting`);
  // A stop like any other: pre_stop/post_stop run around it (e.g. to leave a load balancer first).
  await stopUnit(ctx, svc, { unit: unitName, pid, ticks });
  const due = await commit(ctx, (tx) => {
    const fresh = tx.unit(unitName);
    if (fresh.pid !== pid || fresh.state !== "running") return false;
    fresh.health = "unknown";
    fresh.failures += 1;
    fresh.last_error = reason;
    // The event names the process that was stopped; then the record forgets it.
    tx.events.push(transition(unitName, fresh, "error", `${reason}; stopped for a restart`));
    fresh.pid = null;
    return replan(ctx, svc, fresh);
  });
  if (due && due.kind === "start") await startUnit(ctx, svc, unitName, due.reason, due.restart, report);
}

/** Stop a unit that is not wanted up (or whose stopping sv died), claiming it first. */
async function stopStray(ctx: Ctx, svc: Service, unitName: string, reason: string, report: Report): Promise<void> {
  const claim = await commit(ctx, (tx) => (replan(ctx, svc, tx.unit(unitName))?.kind === "stop" ? claimUnitStop(ctx, tx, unitName, reason) : null));
  if (!claim) return;
  report(`${unitName}: stopping (${reason})`);
  const r = await stopUnit(ctx, svc, claim);
  await commit(ctx, (tx) => recordUnitStopped(tx, r));
}

/**
 * When the planner will next start a unit whose restart the backoff scheduled (epoch ms), or null.
 * Asks the planner, so a schedule it would ignore (policy changed to "no", service removed) is not waited for.
 */
export function nextScheduledStart(ctx: Ctx, state: StoreState): number | null {
  let next: number | null = null;
  for (const [name, unit] of Object.entries(state.units)) {
    const svc = ctx.project.services.get(serviceOf(name));
    if (unit.next_restart_at === null || !svc) continue;
    const at = Date.parse(unit.next_restart_at);
    if (planUnit(svc, unit, Math.max(at, Date.now()), isOwnedByOther(unit, ctx.self))?.kind !== "start") continue;
    next = Math.min(next ?? Infinity, at);
  }
  return next;
}

/** Is every wanted-up unit running and healthy (oneshots: completed)? The reconcile exit status. */
export function unhealthyWanted(ctx: Ctx, state: StoreState): string[] {
  const bad: string[] = [];
  for (const [name, unit] of Object.entries(state.units)) {
    const svc = ctx.project.services.get(serviceOf(name));
    if (!svc || unit.wanted !== "up") continue;
    const fine =
      (unit.state === "running" && unit.health !== "unhealthy" && isSameProcess(unit.pid, unit.start_ticks)) ||
      (unit.state === "completed" && svc.type !== "simple");
    if (!fine) bad.push(`${name} is ${unit.state}${unit.state === "running" ? ` (${unit.health})` : ""}`);
  }
  return bad;
}
