// `sv up`: start services and their dependencies in order, waiting until each is ready.
import type { Service } from "../config/schema.ts";
import { resolveNames, withDependencies } from "../config/project.ts";
import { logFile } from "../paths.ts";
import { runProbe } from "../probes/index.ts";
import { isSameProcess } from "../runtime/identity.ts";
import { killGroup } from "../runtime/signals.ts";
import { spawnService, type Spawned } from "../runtime/spawn.ts";
import { readState, type Tx, type Unit, withState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { isOwnedByOther, refresh } from "./observe.ts";
import { runGraph, type Outcome, type Prerequisite } from "./orchestrate.ts";
import { transition } from "./states.ts";
import { instanceOf, unitEnv, unitNames } from "./units.ts";

/** A process without a health check counts as ready once it has stayed alive this long. */
export const PROCESS_GRACE_MS = 150;
/** Readiness polling while starting: fast, so dependents start as soon as possible. */
const FAST_POLL_MS = 10;

type UnitClaim = { unit: string; spawned?: Spawned; other?: true; startedAt?: number; delayMs?: number };
interface UnitResult {
  unit: string;
  pid: number | null;
  to: "running" | "completed" | "error";
  reason: string;
  exitCode: number | null;
  durationMs: number;
}

/** Services a bare `sv up` starts: everything but on-demand and multi-shot ones. */
export function defaultUpTargets(ctx: Ctx): string[] {
  return [...ctx.project.services.values()].filter((s) => s.type === "simple" || s.type === "oneshot").map((s) => s.name);
}

/** Start `names` (default: all but on-demand) and their dependencies; one outcome per service. */
export async function startServices(ctx: Ctx, names: string[]): Promise<Map<string, Outcome>> {
  const requested = names.length > 0 ? resolveNames(ctx.project, names) : defaultUpTargets(ctx);
  const targets = [...withDependencies(ctx.project, requested)];
  await refresh(ctx, targets.flatMap((n) => unitNames(ctx.project.services.get(n)!)));
  ctx.reporter.plan(targets);

  return runGraph<UnitClaim[]>({
    nodes: targets,
    maxParallel: ctx.project.maxParallel,
    prerequisites: (node) => prerequisitesOf(ctx, node),
    begin: (nodes) => withState(ctx.paths, (tx) => new Map(nodes.map((n) => [n, claimService(ctx, tx, n)])), { waitMs: ctx.lockWaitMs }),
    work: (node, claims) => awaitService(ctx, ctx.project.services.get(node)!, claims),
    finish: (results) => withState(ctx.paths, (tx) => recordResults(ctx, tx, results), { waitMs: ctx.lockWaitMs }),
    onSettled: (node, o) => ctx.reporter.update(node, o.ok ? "ok" : o.skipped ? "skipped" : "failed", o.message),
  });
}

/** depends_on must succeed (condition started: only have begun); after/before only order. */
function prerequisitesOf(ctx: Ctx, node: string): Prerequisite[] {
  const svc = ctx.project.services.get(node)!;
  const pre: Prerequisite[] = Object.entries(svc.dependsOn).map(([name, condition]) => ({ name, hard: true, begun: condition === "started" }));
  for (const name of svc.after) pre.push({ name, hard: false });
  for (const other of ctx.project.services.values()) if (other.before.includes(node)) pre.push({ name: other.name, hard: false });
  return pre;
}

/** Under the lock: mark the service wanted up and spawn the units that are not up already. */
function claimService(ctx: Ctx, tx: Tx, name: string): UnitClaim[] | Outcome {
  const svc = ctx.project.services.get(name)!;
  const claims: UnitClaim[] = [];
  let alreadyUp = 0;
  for (const unitName of unitNames(svc)) {
    const unit = tx.unit(unitName);
    unit.wanted = "up";
    const live = isSameProcess(unit.pid, unit.start_ticks);
    if ((unit.state === "running" && live) || (unit.state === "completed" && svc.type === "oneshot")) alreadyUp++;
    else if (unit.state === "starting" && live && isOwnedByOther(unit, ctx.self)) claims.push({ unit: unitName, other: true });
    else if (unit.state === "stopping" && isOwnedByOther(unit, ctx.self)) return { ok: false, message: `${unitName} is being stopped by another sv` };
    else if (svc.startDelayMs > 0) claims.push({ unit: unitName, delayMs: svc.startDelayMs });
    else {
      try {
        claims.push(spawnUnit(ctx, tx, svc, unitName, unit));
      } catch (e) {
        unit.last_error = (e as Error).message;
        return { ok: false, message: (e as Error).message };
      }
    }
  }
  if (claims.length === 0) {
    const state = svc.type === "oneshot" ? "completed" : "running";
    return { ok: true, message: `already ${state}` };
  }
  if (alreadyUp > 0 || claims.some((c) => c.spawned)) ctx.reporter.update(name, "starting", "starting");
  return claims;
}

/** Under the lock: spawn one unit and record it as starting, owned by us. */
function spawnUnit(ctx: Ctx, tx: Tx, svc: Service, unitName: string, unit: Unit): UnitClaim {
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
  unit.exit_code = null;
  unit.owner_pid = ctx.self.pid;
  unit.owner_ticks = ctx.self.ticks;
  if (unit.state === "starting") unit.since = unit.started_at;
  else tx.events.push(transition(unitName, unit, "starting", "sv up"));
  return { unit: unitName, spawned, startedAt: performance.now() };
}

/** Outside the lock: wait for every unit of the service to be ready (or to fail). */
async function awaitService(ctx: Ctx, svc: Service, claims: UnitClaim[]): Promise<Outcome> {
  const results = await Promise.all(
    claims.map(async (claim): Promise<UnitResult | Outcome> => {
      if (claim.other) return awaitOtherOwner(ctx, claim.unit);
      if (claim.delayMs) {
        await Bun.sleep(claim.delayMs);
        const spawned = await withState(ctx.paths, (tx) => spawnUnit(ctx, tx, svc, claim.unit, tx.unit(claim.unit)), { waitMs: ctx.lockWaitMs });
        ctx.reporter.update(svc.name, "starting", "starting");
        return awaitReady(ctx, svc, claim.unit, spawned.spawned!, spawned.startedAt!);
      }
      return awaitReady(ctx, svc, claim.unit, claim.spawned!, claim.startedAt!);
    }),
  );
  const units = results.filter((r): r is UnitResult => "to" in r);
  const failed = results.find((r) => ("to" in r ? r.to === "error" : !r.ok));
  if (!failed && svc.notifyDelayMs > 0) await Bun.sleep(svc.notifyDelayMs);
  const message = failed ? ("to" in failed ? failed.reason : failed.message) : summarize(svc, units);
  return { ok: !failed, message, data: units };
}

function summarize(svc: Service, units: UnitResult[]): string {
  if (units.length === 0) return svc.type === "oneshot" ? "completed" : "running";
  const ms = Math.max(...units.map((u) => u.durationMs));
  const took = ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  if (svc.type === "oneshot") return `completed in ${took}`;
  const pids = units.map((u) => u.pid).join(", ");
  return `running (pid ${pids}) in ${took}`;
}

/** Wait for a unit another sv is starting: poll the store until it leaves `starting`. */
async function awaitOtherOwner(ctx: Ctx, unitName: string): Promise<Outcome> {
  const deadline = performance.now() + ctx.project.defaultTimeoutMs;
  for (;;) {
    const unit = readState(ctx.paths).units[unitName];
    if (!unit || unit.state !== "starting" || !isOwnedByOther(unit, ctx.self)) {
      if (unit && (unit.state === "running" || unit.state === "completed")) return { ok: true, message: unit.state };
      if (unit?.state === "starting") return { ok: false, message: `${unitName}: the sv that was starting it exited; run sv up again` };
      return { ok: false, message: unit?.last_error ?? `${unitName} is ${unit?.state ?? "unknown"}` };
    }
    if (performance.now() > deadline) return { ok: false, message: `${unitName} did not become ready within ${ctx.project.defaultTimeoutMs} ms` };
    await Bun.sleep(25);
  }
}

/** Wait until a freshly spawned unit is ready: oneshot exits 0; simple passes its health check. */
async function awaitReady(ctx: Ctx, svc: Service, unitName: string, spawned: Spawned, t0: number): Promise<UnitResult> {
  let exit: { code: number | null; signal: string | null } | undefined;
  spawned.exited.then((e) => (exit = e));
  const result = (to: UnitResult["to"], reason: string): UnitResult => ({
    unit: unitName,
    pid: spawned.pid,
    to,
    reason,
    exitCode: exit?.code ?? null,
    durationMs: performance.now() - t0,
  });
  const exitReason = () => (exit!.signal ? `${unitName} was killed by ${exit!.signal}` : `${unitName} exited with code ${exit!.code}`);
  const hardDeadline = t0 + ctx.project.defaultTimeoutMs;

  if (svc.type === "oneshot") {
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
  const pollMs = check.type === "command" ? Math.min(check.intervalMs, 100) : Math.min(check.intervalMs, FAST_POLL_MS);
  const env = { ...process.env, ...svc.env, ...unitEnv(ctx.project, svc, instanceOf(unitName)) };
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
  }
}

/** Under the lock: record each unit's result, if the unit is still the process we started. */
function recordResults(ctx: Ctx, tx: Tx, results: Map<string, Outcome>): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  for (const [name, outcome] of results) {
    let lost: string | undefined;
    for (const r of (outcome.data as UnitResult[] | undefined) ?? []) {
      const unit = tx.unit(r.unit);
      if (unit.pid !== r.pid || unit.state !== "starting") {
        lost = `${r.unit} was changed by another sv while starting (now ${unit.state})`;
        continue;
      }
      unit.owner_pid = unit.owner_ticks = null;
      unit.exit_code = r.exitCode;
      unit.start_duration_s = r.durationMs / 1000;
      if (r.to === "running") {
        unit.health = "healthy";
        unit.failures = 0;
        unit.last_error = null;
      } else {
        unit.pid = null;
        unit.health = "unknown";
        if (r.to === "error") unit.last_error = r.reason;
        else unit.last_error = null;
      }
      tx.events.push(transition(r.unit, unit, r.to, r.reason));
    }
    out.set(name, lost && outcome.ok ? { ok: false, message: lost } : outcome);
  }
  return out;
}
