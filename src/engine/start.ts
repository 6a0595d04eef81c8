// `sv up`: start services and their dependencies in order, waiting until each is ready.
import type { Service } from "../config/schema.ts";
import { dependencyOrder, resolveNames, withDependencies } from "../config/project.ts";
import { isSameProcess } from "../runtime/identity.ts";
import { readState, type Tx, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { awaitStarted, isDeferred, reapLeftovers, type Launched, launchUnit, recordStartFailure, recordUnitResult, spawnUnit, type UnitResult } from "./launch.ts";
import { isOwnedByOther, refresh } from "./observe.ts";
import { runGraph, type Outcome, type Prerequisite } from "./orchestrate.ts";
import { nextRunName, unitNames } from "./units.ts";

type UnitClaim = { unit: string; launched?: Launched; other?: true; deferred?: true };

/** Services a bare `sv up` starts: everything but on-demand and multi-shot ones. */
export function defaultUpTargets(ctx: Ctx): string[] {
  return [...ctx.project.services.values()].filter((s) => s.type === "simple" || s.type === "oneshot").map((s) => s.name);
}

/** Start `names` (default: all but on-demand) and their dependencies; one outcome per service. */
export async function startServices(ctx: Ctx, names: string[]): Promise<Map<string, Outcome>> {
  const requested = names.length > 0 ? resolveNames(ctx.project, names) : defaultUpTargets(ctx);
  const targets = dependencyOrder(ctx.project, withDependencies(ctx.project, requested));
  const state = await refresh(ctx, targets);
  await reapLeftovers(targets.flatMap((n) => unitNames(ctx.project.services.get(n)!, state)).map((u) => state.units[u]));
  ctx.reporter.plan(targets);

  return runGraph<UnitClaim[], Tx>({
    nodes: targets,
    maxParallel: ctx.project.maxParallel,
    prerequisites: (node) => prerequisitesOf(ctx, node),
    transact: (fn) => commit(ctx, fn),
    begin: (tx, nodes) => new Map(nodes.map((n) => [n, claimService(ctx, tx, n)])),
    work: (node, claims) => awaitService(ctx, ctx.project.services.get(node)!, claims),
    finish: recordResults,
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
  // Every trigger of a multi-shot service is a new run with a unit of its own.
  const units = svc.type === "multi-shot" ? [startRun(tx, svc)] : unitNames(svc);
  for (const unitName of units) {
    const unit = tx.unit(unitName);
    unit.wanted = "up";
    const live = isSameProcess(unit.pid, unit.start_ticks);
    if ((unit.state === "running" && live) || (unit.state === "completed" && svc.type === "oneshot")) continue;
    if (unit.state === "starting" && live && isInProgress(unit, ctx)) claims.push({ unit: unitName, other: true });
    else if (unit.state === "stopping" && isOwnedByOther(unit, ctx.self)) return { ok: false, message: `${unitName} is being stopped by another sv` };
    else if (isDeferred(svc)) claims.push({ unit: unitName, deferred: true });
    else {
      try {
        claims.push({ unit: unitName, launched: spawnUnit(ctx, tx, svc, unitName, "sv up") });
      } catch (e) {
        recordStartFailure(tx, unitName, (e as Error).message);
        return { ok: false, message: (e as Error).message };
      }
    }
  }
  if (claims.length === 0) return { ok: true, message: `already ${svc.type === "oneshot" ? "completed" : "running"}` };
  ctx.reporter.update(name, "starting", "starting");
  return claims;
}

/** Finished runs of a multi-shot service kept in the store (and shown by status). */
const KEEP_RUNS = 10;

/** Under the lock: a new run of a multi-shot service; forget the oldest finished runs. */
function startRun(tx: Tx, svc: Service): string {
  const finished = unitNames(svc, tx.state).filter((u) => ["completed", "error", "stopped"].includes(tx.state.units[u]!.state));
  for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_RUNS + 1))) delete tx.state.units[old];
  return nextRunName(svc, tx.state);
}

/** Outside the lock: wait for every unit of the service to be ready (or to fail). */
async function awaitService(ctx: Ctx, svc: Service, claims: UnitClaim[]): Promise<Outcome> {
  const results = await Promise.all(
    claims.map(async (claim): Promise<UnitResult | Outcome> => {
      if (claim.other) return awaitOtherOwner(ctx, claim.unit);
      if (claim.deferred) {
        const r = await launchUnit(ctx, svc, claim.unit, { reason: "sv up", countRestart: false, guard: (u) => !isOwnedByOther(u, ctx.self) });
        // null: someone else (watch, another sv up) started it meanwhile: wait for theirs.
        return r ?? awaitOtherOwner(ctx, claim.unit);
      }
      return awaitStarted(ctx, svc, claim.launched!);
    }),
  );
  // Deferred units are already recorded by launchUnit; the rest are recorded by `finish`.
  const pending = results.filter((r, i): r is UnitResult => "to" in r && !claims[i]!.deferred);
  const units = results.filter((r): r is UnitResult => "to" in r);
  const failed = results.find((r) => ("to" in r ? r.to === "error" : !r.ok));
  const message = failed ? ("to" in failed ? failed.reason : failed.message) : summarize(svc, units);
  if (failed || svc.notifyDelayMs === 0) return { ok: !failed, message, data: pending };
  // notify_delay holds back the dependents only: record "running" now, then wait.
  const lost = await commit(ctx, (tx) => recordResults(tx, new Map([[svc.name, { ok: true, message, data: pending }]])));
  const outcome = lost.get(svc.name)!;
  if (outcome.ok) await Bun.sleep(svc.notifyDelayMs);
  return { ...outcome, data: [] };
}

function summarize(svc: Service, units: UnitResult[]): string {
  if (units.length === 0) return svc.type === "oneshot" ? "completed" : "running";
  const ms = Math.max(...units.map((u) => u.durationMs));
  const took = ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  if (svc.type === "oneshot" || svc.type === "multi-shot") return `completed in ${took}`;
  return `running (pid ${units.map((u) => u.pid).join(", ")}) in ${took}`;
}

/** Is someone alive — another sv, or this one (watch and its API) — driving this unit's start? */
function isInProgress(unit: Unit, ctx: Ctx): boolean {
  return unit.owner_pid === ctx.self.pid || isOwnedByOther(unit, ctx.self);
}

/** Wait for a unit someone else is starting: poll the store until it leaves `starting`. */
async function awaitOtherOwner(ctx: Ctx, unitName: string): Promise<Outcome> {
  const deadline = performance.now() + ctx.project.defaultTimeoutMs;
  for (;;) {
    const unit = readState(ctx.paths).units[unitName];
    if (!unit || unit.state !== "starting" || !isInProgress(unit, ctx)) {
      if (unit && (unit.state === "running" || unit.state === "completed")) return { ok: true, message: unit.state };
      if (unit?.state === "starting") return { ok: false, message: `${unitName}: the sv that was starting it exited; run sv up again` };
      return { ok: false, message: unit?.last_error ?? `${unitName} is ${unit?.state ?? "unknown"}` };
    }
    if (performance.now() > deadline) return { ok: false, message: `${unitName} did not become ready within ${ctx.project.defaultTimeoutMs} ms` };
    await Bun.sleep(25);
  }
}

/** Under the lock: record each unit's result, if the unit is still the process we started. */
function recordResults(tx: Tx, results: Map<string, Outcome>): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  for (const [name, outcome] of results) {
    let lost: string | null = null;
    for (const r of (outcome.data as UnitResult[] | undefined) ?? []) lost = recordUnitResult(tx, r) ?? lost;
    out.set(name, lost && outcome.ok ? { ok: false, message: lost } : outcome);
  }
  return out;
}
