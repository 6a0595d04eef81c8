// `sv up`: start services and their dependencies in order, waiting until each is ready; recreate units
// whose definition changed, and warn about (or stop) orphans.
import type { Service } from "../config/schema.ts";
import { dependencyOrder, resolveNames, withDependencies } from "../config/project.ts";
import { isAlive } from "../store/owner.ts";
import { readState, type Tx, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { isChanged } from "./definition.ts";
import { abandonCreated, claimStart, createUnits, type Created, isDeferred, launchUnit, reapLeftovers, recordCreated, recordUnitResult, releaseAll, type UnitResult } from "./launch.ts";
import { isOwnedByOther, refresh } from "./observe.ts";
import { orphanServices } from "./orphans.ts";
import { runGraph, type Outcome, type Prerequisite } from "./orchestrate.ts";
import { awaitStarted, type Launched } from "./ready.ts";
import { claimUnitStop, recordUnitStopped, stopServices, stopUnit } from "./stop.ts";
import { nextRunName, serviceOf, unitNames } from "./units.ts";

type UnitClaim =
  | { unit: string; intent: true }
  | { unit: string; launched: Launched }
  | { unit: string; adopted: Launched }
  | { unit: string; other: true }
  | { unit: string; deferred: true }
  | { unit: string; recreate: string }
  | { unit: string; failure: string };

export interface StartOptions {
  /** Keep units whose definition changed (`--no-recreate`). */
  noRecreate?: boolean;
  /** Stop orphans (`--remove-orphans`) instead of warning about them. */
  removeOrphans?: boolean;
}

/** Services a bare `sv up` starts: everything but on-demand and multi-shot ones. */
export function defaultUpTargets(ctx: Ctx): string[] {
  return [...ctx.project.services.values()].filter((s) => s.type === "simple" || s.type === "oneshot").map((s) => s.name);
}

/** Start `names` (default: all but on-demand) and their dependencies; one outcome per service. */
export async function startServices(ctx: Ctx, names: string[], opts: StartOptions = {}): Promise<Map<string, Outcome>> {
  const requested = names.length > 0 ? resolveNames(ctx.project, names) : defaultUpTargets(ctx);
  const targets = dependencyOrder(ctx.project, withDependencies(ctx.project, requested));
  const state = await refresh(ctx, targets);
  const orphans = await handleOrphans(ctx, opts.removeOrphans === true);
  const units = targets.flatMap((n) => unitNames(ctx.project.services.get(n)!, state));
  await reapLeftovers(ctx, units.map((u) => state.units[u]), units);
  ctx.reporter.plan(targets);

  const outcomes = await runGraph<UnitClaim[], Tx>({
    nodes: targets,
    maxParallel: ctx.project.maxParallel,
    prerequisites: (node) => prerequisitesOf(ctx, node),
    transact: (fn) => commit(ctx, fn),
    begin: (tx, nodes) => new Map(nodes.map((n) => [n, claimService(ctx, tx, n, opts)])),
    create: (claims) => createUnits(ctx, [...claims.values()].flat().filter((c) => "intent" in c).map((c) => ({ unit: c.unit, svc: svcOf(ctx, c.unit) }))),
    record: (tx, created, claims) => recordClaims(ctx, tx, created as Created[], claims),
    abandon: (created) => abandonCreated(created as Created[]),
    recorded: (claims) => releaseAll([...claims.values()].flatMap((c) => (Array.isArray(c) ? c.filter((u) => "launched" in u) : []) as { launched: Launched }[])),
    work: (node, claims, idle) => {
      const svc = ctx.project.services.get(node)!;
      // Without a health check, readiness is a grace period of waiting: it holds no max_parallel slot.
      if (svc.healthCheck.type === "process" && svc.hooks.post_start === undefined && claims.every((c) => "launched" in c)) idle();
      return awaitService(ctx, svc, claims);
    },
    finish: (tx, results) => recordResults(ctx, tx, results),
    onSettled: (node, o) => ctx.reporter.update(node, o.ok ? "ok" : o.skipped ? "skipped" : "failed", o.message),
  });
  for (const [name, o] of orphans) outcomes.set(name, o);
  return outcomes;
}

const svcOf = (ctx: Ctx, unit: string): Service => ctx.project.services.get(serviceOf(unit))!;

/** Orphans (recorded units whose service is gone): a warning, or with --remove-orphans, stopped. */
async function handleOrphans(ctx: Ctx, remove: boolean): Promise<Map<string, Outcome>> {
  const orphans = orphanServices(ctx, readState(ctx.paths)).filter((o) => o.live);
  if (orphans.length === 0) return new Map();
  const names = orphans.map((o) => o.service);
  if (!remove) {
    ctx.reporter.warn(`found orphan${names.length === 1 ? "" : "s"} ${names.join(", ")}: recorded as running, but gone from the config; \`sv down ${names.join(" ")}\` or \`sv up --remove-orphans\` stops ${names.length === 1 ? "it" : "them"}`);
    return new Map();
  }
  return stopServices(ctx, names);
}

/** depends_on must succeed (condition started: only have begun); after/before only order. */
function prerequisitesOf(ctx: Ctx, node: string): Prerequisite[] {
  const svc = ctx.project.services.get(node)!;
  const pre: Prerequisite[] = Object.entries(svc.dependsOn).map(([name, condition]) => ({ name, hard: true, begun: condition === "started" }));
  for (const name of svc.after) pre.push({ name, hard: false });
  for (const other of ctx.project.services.values()) if (other.before.includes(node)) pre.push({ name: other.name, hard: false });
  return pre;
}

/** Under the lock: mark the service wanted up and claim the units that are not up already. */
function claimService(ctx: Ctx, tx: Tx, name: string, opts: StartOptions): UnitClaim[] | Outcome {
  const svc = ctx.project.services.get(name)!;
  const claims: UnitClaim[] = [];
  // Every trigger of a multi-shot service is a new run with a unit of its own.
  const units = svc.type === "multi-shot" ? [startRun(tx, svc)] : unitNames(svc);
  for (const unitName of units) {
    const unit = tx.unit(unitName);
    unit.wanted = "up";
    const claim = claimUnit(ctx, tx, svc, unitName, unit, opts);
    if (claim && "failure" in claim) return { ok: false, message: claim.failure };
    if (claim) claims.push(claim);
  }
  if (claims.length === 0) return { ok: true, message: `already ${svc.type === "oneshot" ? "completed" : "running"}` };
  ctx.reporter.update(name, "starting", "starting");
  return claims;
}

/** What to do for one unit (the state was refreshed just before: a recorded running unit is alive). */
function claimUnit(ctx: Ctx, tx: Tx, svc: Service, unitName: string, unit: Unit, opts: StartOptions): UnitClaim | null {
  if (unit.state === "running") {
    if (opts.noRecreate || !isChanged(ctx, svc, unitName, unit.spec)) return null;
    return { unit: unitName, recreate: "definition changed" };
  }
  if (unit.state === "completed" && svc.type === "oneshot" && !isChanged(ctx, svc, unitName, unit.spec)) return null;
  if (unit.state === "starting" && isInProgress(unit, ctx)) return { unit: unitName, other: true };
  if (unit.state === "starting" && unit.handle !== null) return adoptStart(ctx, unitName, unit) ?? { unit: unitName, other: true };
  if (unit.state === "stopping") {
    if (isOwnedByOther(unit, ctx.self)) return { unit: unitName, failure: `${unitName} is being stopped by another sv` };
    return { unit: unitName, recreate: "finishing a stop whose sv exited" };
  }
  if (isDeferred(svc)) return { unit: unitName, deferred: true };
  claimStart(ctx, tx, svc, unitName, "sv up");
  return { unit: unitName, intent: true };
}

/**
 * Under the lock: take over a start whose sv died after creating the unit, to wait for it as our own
 * within what is left of its start_timeout (counted from when it was started), so it is never left
 * starting and never started twice.
 */
function adoptStart(ctx: Ctx, unitName: string, unit: Unit): UnitClaim | null {
  if (!unit.handle || unit.started_at === null) return null;
  const backend = ctx.backends.of(unit.handle);
  unit.owner_pid = ctx.self.pid;
  unit.owner_ticks = ctx.self.ticks;
  const startedAt = performance.now() - Math.max(0, Date.now() - Date.parse(unit.started_at));
  return { unit: unitName, adopted: { unit: unitName, handle: unit.handle, backend, startedAt } };
}

/** Under the lock: the handles of what was created; failures and lost intents become outcomes. */
function recordClaims(ctx: Ctx, tx: Tx, created: Created[], claims: Map<string, UnitClaim[]>): Map<string, UnitClaim[] | Outcome> {
  const records = recordCreated(ctx, tx, created);
  const out = new Map<string, UnitClaim[] | Outcome>();
  for (const [node, list] of claims) {
    const next: UnitClaim[] = [];
    for (const c of list) {
      if (!("intent" in c)) {
        next.push(c);
        continue;
      }
      const r = records.get(c.unit)!;
      if ("launched" in r) next.push({ unit: c.unit, launched: r.launched });
      else if ("lost" in r) next.push({ unit: c.unit, other: true });
      else next.push({ unit: c.unit, failure: r.failure });
    }
    out.set(node, next);
  }
  // Lost creations (another sv took the unit meanwhile) are undone here: `recorded` only releases.
  for (const r of records.values()) if ("lost" in r) void r.lost.abort();
  return out;
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
    claims.map(async (claim): Promise<{ result: UnitResult | Outcome; recorded: boolean }> => {
      if ("failure" in claim) return { result: { ok: false, message: claim.failure }, recorded: true };
      if ("other" in claim) return { result: await awaitOtherOwner(ctx, claim.unit), recorded: true };
      if ("launched" in claim) return { result: await awaitStarted(ctx, svc, claim.launched), recorded: false };
      if ("adopted" in claim) return { result: await awaitStarted(ctx, svc, claim.adopted), recorded: false };
      if ("recreate" in claim) await recreate(ctx, svc, claim.unit, claim.recreate);
      const r = await launchUnit(ctx, svc, claim.unit, { reason: "recreate" in claim ? `recreating: ${claim.recreate}` : "sv up", countRestart: false, guard: (u) => isStillToStart(ctx, u) });
      // null: someone else (watch, another sv up) started it meanwhile: wait for theirs.
      return { result: r ?? (await awaitOtherOwner(ctx, claim.unit)), recorded: true };
    }),
  );
  const pending = results.filter((r) => !r.recorded && "to" in r.result).map((r) => r.result as UnitResult);
  const units = results.map((r) => r.result).filter((r): r is UnitResult => "to" in r);
  const failed = results.map((r) => r.result).find((r) => ("to" in r ? r.to === "failed" : !r.ok));
  const recreated = claims.filter((c) => "recreate" in c).map((c) => c.unit);
  const waited = results.map((r) => r.result).filter((r): r is Outcome => !("to" in r));
  // A single unit someone else started meanwhile: say what they brought up (its pid).
  const message = failed ? ("to" in failed ? failed.reason : failed.message) : units.length === 0 && waited.length === 1 ? waited[0]!.message : summarize(svc, units, recreated);
  if (failed || svc.notifyDelayMs === 0) return { ok: !failed, message, data: pending };
  // notify_delay holds back the dependents only: record "running" now, then wait.
  const lost = await commit(ctx, (tx) => recordResults(ctx, tx, new Map([[svc.name, { ok: true, message, data: pending }]])));
  const outcome = lost.get(svc.name)!;
  if (outcome.ok) await Bun.sleep(svc.notifyDelayMs);
  return { ...outcome, data: [] };
}

/** Stop the running unit (its definition changed, or a stop was left unfinished) before starting it anew. */
async function recreate(ctx: Ctx, svc: Service, unitName: string, why: string): Promise<void> {
  const claim = await commit(ctx, (tx) => (isOwnedByOther(tx.unit(unitName), ctx.self) ? null : claimUnitStop(ctx, tx, unitName, `recreating: ${why}`)));
  if (!claim) return;
  const r = await stopUnit(ctx, svc, claim);
  await commit(ctx, (tx) => recordUnitStopped(tx, r));
}

function summarize(svc: Service, units: UnitResult[], recreated: string[]): string {
  const again = recreated.length > 0 ? ` (recreated: definition changed)` : "";
  if (units.length === 0) return (svc.type === "oneshot" ? "completed" : "running") + again;
  const ms = Math.max(...units.map((u) => u.durationMs));
  const took = ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  if (svc.type === "oneshot" || svc.type === "multi-shot") return `completed in ${took}${again}`;
  return `running (pid ${units.map((u) => u.pid).join(", ")}) in ${took}${again}`;
}

/**
 * After a delay or a pre_start hook outside the lock: does the unit still need this start? Not when
 * someone (watch, another sv up) started it meanwhile: starting over a running unit would drop its handle
 * and leave its process unrecorded.
 */
function isStillToStart(ctx: Ctx, unit: Unit): boolean {
  return !isOwnedByOther(unit, ctx.self) && unit.state !== "running" && !(unit.state === "starting" && unit.handle !== null);
}

/** Is someone alive — another sv, or this one (watch and its API) — driving this unit's start? */
function isInProgress(unit: Unit, ctx: Ctx): boolean {
  return unit.owner_pid === ctx.self.pid || isAlive(unit.owner_pid, unit.owner_ticks);
}

/** Wait for a unit someone else is starting (or that an sv left starting): until it leaves `starting`. */
async function awaitOtherOwner(ctx: Ctx, unitName: string): Promise<Outcome> {
  const deadline = performance.now() + ctx.project.defaultTimeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 50)) {
    // An adopted start (its sv died) is only moved on by observing it.
    const state = await refresh(ctx, [svcOf(ctx, unitName).name]);
    const unit = state.units[unitName];
    if (!unit || unit.state !== "starting") {
      if (unit?.state === "running") return { ok: true, message: `running${unit.handle?.pid === undefined ? "" : ` (pid ${unit.handle.pid})`}` };
      if (unit?.state === "completed") return { ok: true, message: "completed" };
      return { ok: false, message: unit?.last_error ?? `${unitName} is ${unit?.state ?? "unknown"}` };
    }
    if (!isInProgress(unit, ctx) && unit.handle === null) return { ok: false, message: `${unitName}: the sv that was starting it exited; run sv up again` };
    if (performance.now() > deadline) return { ok: false, message: `${unitName} did not become ready within ${ctx.project.defaultTimeoutMs} ms` };
    await Bun.sleep(pause);
  }
}

/** Under the lock: record each unit's result, if the unit is still the one we started. */
function recordResults(ctx: Ctx, tx: Tx, results: Map<string, Outcome>): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  for (const [name, outcome] of results) {
    let lost: string | null = null;
    for (const r of (outcome.data as UnitResult[] | undefined) ?? []) lost = recordUnitResult(ctx, tx, r) ?? lost;
    out.set(name, lost && outcome.ok ? { ok: false, message: lost } : outcome);
  }
  return out;
}
