// Launching one unit: spawn under the lock, wait for readiness outside it, record the result under it.
import type { Service } from "../config/schema.ts";
import { logFile } from "../paths.ts";
import { runProbe } from "../probes/index.ts";
import { isSameProcess } from "../runtime/identity.ts";
import { killGroup, killGroupNow } from "../runtime/signals.ts";
import { type ExitStatus, spawnService, type Spawned } from "../runtime/spawn.ts";
import { readState, type Tx, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { processEnv, runHook } from "./hooks.ts";
import { note, transition } from "./states.ts";
import { instanceOf, unitEnv } from "./units.ts";

/** A process without a health check counts as ready once it has stayed alive this long. */
export const PROCESS_GRACE_MS = 150;
/** Readiness polling while starting: fast, so dependents start as soon as possible. */
const FAST_POLL_MS = 10;

export interface UnitResult {
  unit: string;
  pid: number | null;
  to: "running" | "completed" | "error";
  reason: string;
  exitCode: number | null;
  durationMs: number;
  /** A run of a multi-shot service. */
  run?: boolean;
}

export interface Launched {
  unit: string;
  spawned: Spawned;
  startedAt: number;
}

/**
 * Kill what is left of the last process group of units that are not running (a crashed main process
 * can leave children behind, holding its port). killGroup checks the group is ours (pid reuse).
 */
export async function reapLeftovers(units: (Unit | undefined)[]): Promise<void> {
  await Promise.all(
    units.map(async (u) => {
      if (!u || u.pid === null || u.start_ticks === null || ["running", "starting", "stopping"].includes(u.state)) return;
      await killGroup(u.pid, u.start_ticks);
    }),
  );
}

/** Does starting this service need work outside the lock first (a delay or a pre_start hook)? */
export function isDeferred(svc: Service): boolean {
  return svc.startDelayMs > 0 || svc.hooks.pre_start !== undefined;
}

/** Under the lock: spawn one unit and record it as starting, owned by us. */
export function spawnUnit(ctx: Ctx, tx: Tx, svc: Service, unitName: string, reason: string, countRestart = false): Launched {
  const unit = tx.unit(unitName);
  // A unit left starting/stopping by an sv that died may still have its process: replace it, never orphan it.
  if (unit.pid !== null && unit.start_ticks !== null) killGroupNow(unit.pid, unit.start_ticks);
  const spawned = spawnService(svc, {
    instance: instanceOf(unitName),
    logPath: logFile(ctx.paths, unitName),
    env: unitEnv(ctx.project, svc, instanceOf(unitName)),
  });
  if (unit.state === "stopping") tx.events.push(transition(unitName, unit, "stopped", "process gone"));
  unit.pid = spawned.pid;
  unit.start_ticks = spawned.startTicks;
  unit.started_at = new Date().toISOString();
  unit.health = "unknown";
  unit.health_failures = 0;
  unit.health_failed_at = null;
  unit.exit_code = null;
  unit.next_restart_at = null;
  unit.owner_pid = ctx.self.pid;
  unit.owner_ticks = ctx.self.ticks;
  if (countRestart) unit.restarts += 1;
  // A start that is not a policy restart (sv up, or wanted up but stopped) begins the backoff afresh.
  else {
    unit.failures = 0;
    unit.gave_up_at = null;
  }
  if (unit.state === "starting") unit.since = unit.started_at;
  else tx.events.push(transition(unitName, unit, "starting", reason));
  return { unit: unitName, spawned, startedAt: performance.now() };
}

/** Wait until a freshly spawned unit is ready: oneshot exits 0; simple passes its health check. */
export async function awaitReady(ctx: Ctx, svc: Service, launched: Launched): Promise<UnitResult> {
  const { unit: unitName, spawned, startedAt: t0 } = launched;
  let exit: ExitStatus | undefined;
  spawned.exited.then((e) => (exit = e));
  const result = (to: UnitResult["to"], reason: string): UnitResult => ({
    unit: unitName,
    pid: spawned.pid,
    to,
    reason,
    exitCode: exit?.code ?? null,
    durationMs: performance.now() - t0,
    run: svc.type === "multi-shot",
  });
  const exitReason = () => (exit!.signal ? `${unitName} was killed by ${exit!.signal}` : `${unitName} exited with code ${exit!.code}`);
  const hardDeadline = t0 + ctx.project.defaultTimeoutMs;

  if (svc.type === "oneshot" || svc.type === "multi-shot") {
    const timedOut = await Promise.race([spawned.exited.then(() => false), Bun.sleep(ctx.project.defaultTimeoutMs).then(() => true)]);
    if (timedOut) {
      await killGroup(spawned.pid, spawned.startTicks);
      return result("error", `${unitName} did not complete within ${ctx.project.defaultTimeoutMs} ms and was killed`);
    }
    await Bun.sleep(0);
    return exit!.code === 0 ? result("completed", "exited with code 0") : result("error", exitReason());
  }

  const check = svc.healthCheck;
  const failDeadline = Math.min(hardDeadline, t0 + check.startPeriodMs + check.intervalMs * check.retries);
  const maxPollMs = check.type === "command" ? Math.min(check.intervalMs, 100) : Math.min(check.intervalMs, FAST_POLL_MS);
  // Most services are ready within milliseconds: look again after 1 ms, then back off to the cap.
  let pollMs = check.type === "command" ? maxPollMs : 1;
  const env = () => processEnv(ctx, svc, unitName);
  let lastReason = "health check did not pass";
  for (;;) {
    if (exit) return result("error", `${exitReason()} while starting`);
    if (check.type === "process") {
      if (performance.now() - t0 >= PROCESS_GRACE_MS) return result("running", "started");
    } else {
      const probe = await runProbe(svc, { pid: spawned.pid, startTicks: spawned.startTicks, env });
      if (exit) continue;
      if (probe.ok) return result("running", "health check passed");
      lastReason = probe.reason!;
    }
    if (performance.now() >= failDeadline) {
      await killGroup(spawned.pid, spawned.startTicks);
      const within = failDeadline === hardDeadline ? ` (not ready within ${ctx.project.defaultTimeoutMs} ms)` : "";
      return result("error", `${lastReason}${within}`);
    }
    await Promise.race([Bun.sleep(pollMs), spawned.exited]);
    pollMs = Math.min(pollMs * 2, maxPollMs);
  }
}

/** Ready, then post_start: a failing post_start hook fails the start (and stops the process). */
export async function awaitStarted(ctx: Ctx, svc: Service, launched: Launched): Promise<UnitResult> {
  const r = await awaitReady(ctx, svc, launched);
  if (r.to === "error" || svc.hooks.post_start === undefined) return r;
  const why = await runHook(ctx, svc, r.unit, "post_start");
  if (why === null) return r;
  if (r.to === "running") await killGroup(launched.spawned.pid, launched.spawned.startTicks);
  return { ...r, to: "error", reason: why };
}

/** Under the lock: record a unit's result if it is still the process we started; else why not. */
export function recordUnitResult(tx: Tx, r: UnitResult): string | null {
  const unit = tx.unit(r.unit);
  if (unit.pid !== r.pid || unit.state !== "starting") return `${r.unit} was changed by another sv while starting (now ${unit.state})`;
  unit.owner_pid = unit.owner_ticks = null;
  unit.exit_code = r.exitCode;
  unit.start_duration_s = r.durationMs / 1000;
  if (r.to === "running") {
    unit.health = "healthy";
    unit.last_error = null;
    unit.gave_up_at = null;
  } else {
    unit.health = "unknown";
    if (r.to === "error") {
      unit.last_error = r.reason;
      unit.failures += 1;
    } else {
      unit.last_error = null;
      unit.failures = 0;
      unit.gave_up_at = null;
    }
    // A finished multi-shot run is history, not a wish: reconcile must not keep judging it.
    if (r.run) unit.wanted = "down";
  }
  tx.events.push(transition(r.unit, unit, r.to, r.reason));
  return null;
}

/** Under the lock: a start that failed before any process existed (pre_start hook, spawn error). */
export function recordStartFailure(tx: Tx, unitName: string, reason: string): void {
  const unit = tx.unit(unitName);
  unit.last_error = reason;
  unit.failures += 1;
  unit.next_restart_at = null;
  if (unit.state === "error") tx.events.push(note(unitName, unit, reason));
  else if (unit.state === "stopped" || unit.state === "completed") {
    tx.events.push(transition(unitName, unit, "starting", "start"));
    tx.events.push(transition(unitName, unit, "error", reason));
  } else tx.events.push(transition(unitName, unit, "error", reason));
}

/**
 * The whole start of one unit outside a batch: start_delay, pre_start, spawn under the lock (only if
 * `guard` still holds for the fresh record: nobody else started it meanwhile), wait, record.
 * Returns null when the guard failed (someone else is on it).
 */
export async function launchUnit(
  ctx: Ctx,
  svc: Service,
  unitName: string,
  opts: { reason: string; countRestart: boolean; guard: (unit: Unit) => boolean },
): Promise<UnitResult | null> {
  if (svc.startDelayMs > 0) await Bun.sleep(svc.startDelayMs);
  await reapLeftovers([readState(ctx.paths).units[unitName]]);
  const hookError = await runHook(ctx, svc, unitName, "pre_start");
  const launched = await commit(ctx, (tx) => {
    const unit = tx.unit(unitName);
    if (!opts.guard(unit)) return null;
    // Another sv started it while we waited (start_delay, pre_start): keep that process, do not replace it.
    if (unit.state === "running" && isSameProcess(unit.pid, unit.start_ticks)) return { running: unit.pid! };
    let failure = hookError;
    if (failure === null) {
      try {
        return spawnUnit(ctx, tx, svc, unitName, opts.reason, opts.countRestart);
      } catch (e) {
        failure = (e as Error).message;
      }
    }
    recordStartFailure(tx, unitName, failure);
    return { failure };
  });
  if (launched === null) return null;
  if ("running" in launched) return { unit: unitName, pid: launched.running ?? null, to: "running", reason: "already running", exitCode: null, durationMs: 0 };
  if ("failure" in launched) return { unit: unitName, pid: null, to: "error", reason: launched.failure, exitCode: null, durationMs: 0 };
  const result = await awaitStarted(ctx, svc, launched);
  const lost = await commit(ctx, (tx) => recordUnitResult(tx, result));
  return lost ? { ...result, to: "error", reason: lost } : result;
}
