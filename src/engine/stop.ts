// `sv down`: stop services and everything that depends on them, dependents first; orphans too, from
// what the store recorded (their stop signal and timeout), so a broken or changed config never keeps a
// unit running.
import type { Handle } from "../backends/backend.ts";
import type { Service } from "../config/schema.ts";
import { dependencyOrder, withDependents } from "../config/project.ts";
import { readState, type StoreState, type Tx } from "../store/store.ts";
import { SvError, UsageError, didYouMean } from "../errors.ts";
import { adoptDiscovered } from "./adopt.ts";
import { reapLeftovers } from "./launch.ts";
import { commit } from "./commit.ts";
import { endMessage } from "./ending.ts";
import { runHook } from "./hooks.ts";
import type { Ctx } from "./context.ts";
import { unitsOf } from "./observe.ts";
import { isOrphan, orphanServices } from "./orphans.ts";
import { runGraph, type Outcome } from "./orchestrate.ts";
import { transition } from "./states.ts";
import { serviceOf } from "./units.ts";

export interface StopClaim {
  unit: string;
  handle: Handle;
  signal: string;
  /** The stop_timeout: from the signal to SIGKILL. */
  timeoutMs: number;
  /** Taken over from an sv that began the stop and was interrupted: how long is left of its timeout. */
  resumed?: { leftMs: number };
}
export interface StopResult {
  unit: string;
  handle: Handle;
  forced: boolean;
  durationMs: number;
  warnings: string[];
}

/** The services `sv down NAME…` means: defined ones, or orphans recorded in the store. */
export function resolveStopNames(ctx: Ctx, state: StoreState, names: string[]): string[] {
  for (const name of names) {
    if (ctx.project.services.has(name) || isOrphan(ctx, state, name)) continue;
    const known = [...ctx.project.services.keys(), ...orphanServices(ctx, state).map((o) => o.service)];
    const guess = didYouMean(name, known);
    throw new UsageError(`unknown service "${name}"`, guess ? `did you mean "${guess}"?` : "run `sv status` to see the services");
  }
  return [...new Set(names)];
}

/** Stop `names` (default: all, orphans included) and their dependents; one outcome per service. */
export async function stopServices(ctx: Ctx, names: string[]): Promise<Map<string, Outcome>> {
  const state = await adoptDiscovered(ctx, readState(ctx.paths));
  const requested = names.length > 0 ? resolveStopNames(ctx, state, names) : [...ctx.project.services.keys(), ...orphanServices(ctx, state).map((o) => o.service)];
  const defined = requested.filter((n) => ctx.project.services.has(n));
  const orphans = requested.filter((n) => !ctx.project.services.has(n));
  const targets = [...orphans, ...dependencyOrder(ctx.project, withDependents(ctx.project, defined)).reverse()];
  ctx.reporter.plan(targets);
  const units = unitsOf(ctx, state, targets);
  await reapLeftovers(ctx, units.map((u) => state.units[u]), units);
  return runGraph<StopClaim[], Tx>({
    nodes: targets,
    transact: (fn) => commit(ctx, fn),
    // Wanted down first, for all of them: a reconciler must not revive what we are about to stop.
    prepare: (tx) => {
      for (const u of unitsOf(ctx, tx.state, targets)) tx.unit(u).wanted = "down";
    },
    maxParallel: Number.POSITIVE_INFINITY,
    // A service stops only after everything that depends on it (or is ordered after it) has stopped.
    prerequisites: (node) =>
      ctx.project.services.has(node)
        ? [...ctx.project.services.values()]
            .filter((s) => node in s.dependsOn || s.after.includes(node) || ctx.project.services.get(node)!.before.includes(s.name))
            .map((s) => ({ name: s.name, hard: false }))
        : [],
    begin: (tx, nodes) => new Map(nodes.map((n) => [n, claimStop(ctx, tx, n)])),
    work: (node, claims) => awaitStopped(ctx, ctx.project.services.get(node), claims),
    finish: recordStopped,
    onSettled: (node, o) => ctx.reporter.update(node, o.ok ? "ok" : "failed", o.message),
  });
}

/** The stop signal and timeout of a unit: its service's, else what was recorded when it started. */
function stopSettings(ctx: Ctx, tx: Tx, name: string): { signal: string; timeoutMs: number } {
  const svc = ctx.project.services.get(serviceOf(name));
  if (svc) return { signal: svc.stopSignal, timeoutMs: svc.stopTimeoutMs };
  const spec = tx.unit(name).spec;
  return { signal: spec?.stop_signal ?? "SIGTERM", timeoutMs: spec?.stop_timeout_ms ?? 10_000 };
}

/**
 * Under the lock: a running, starting or stopping unit goes to stopping, owned by us. The claim to stop
 * it, or null when nothing of it exists (then it is stopped at once).
 */
export function claimUnitStop(ctx: Ctx, tx: Tx, name: string, reason: string): StopClaim | null {
  const unit = tx.unit(name);
  unit.next_restart_at = null;
  if (unit.state === "completed" || unit.state === "error" || unit.state === "restarting") {
    tx.events.push(transition(name, unit, "stopped", reason));
    return null;
  }
  if (unit.state === "stopped") return null;
  // A stop already under way (its sv was interrupted or died) keeps its deadline: SIGKILL comes when it was due.
  const begun = unit.state === "stopping" && unit.since ? Date.parse(unit.since) : null;
  if (unit.state !== "stopping") tx.events.push(transition(name, unit, "stopping", reason));
  if (unit.handle !== null) {
    unit.owner_pid = ctx.self.pid;
    unit.owner_ticks = ctx.self.ticks;
    const settings = stopSettings(ctx, tx, name);
    const resumed = begun === null ? undefined : { leftMs: Math.max(0, Math.min(settings.timeoutMs, begun + settings.timeoutMs - Date.now())) };
    return { unit: name, handle: unit.handle, ...settings, resumed };
  }
  unit.owner_pid = unit.owner_ticks = null;
  tx.events.push(transition(name, unit, "stopped", "no process"));
  return null;
}

/** Under the lock: mark wanted down; live units go to stopping, owned by us. */
function claimStop(ctx: Ctx, tx: Tx, service: string): StopClaim[] | Outcome {
  const claims: StopClaim[] = [];
  for (const name of unitsOf(ctx, tx.state, [service])) {
    const unit = tx.unit(name);
    unit.wanted = "down";
    const claim = claimUnitStop(ctx, tx, name, "sv down");
    if (claim) claims.push(claim);
  }
  if (claims.length === 0) return { ok: true, message: "stopped" };
  ctx.reporter.update(service, "stopping", "stopping");
  return claims;
}

/** Outside the lock: stop one unit and wait for it to go, with pre_stop/post_stop hooks (when its service is known). */
export async function stopUnit(ctx: Ctx, svc: Service | undefined, c: StopClaim): Promise<StopResult> {
  const warnings: string[] = [];
  const backend = ctx.backends.of(c.handle);
  // A resumed stop has had its pre_stop (and its signal): only the rest of the wait is left.
  const pre = svc && !c.resumed && (await runHook(ctx, svc, c.unit, "pre_stop"));
  if (pre) warnings.push(pre);
  const r = await backend.stop(c.unit, c.handle, { signal: c.signal, timeoutMs: c.resumed?.leftMs ?? c.timeoutMs });
  // What a stopped unit leaves (a container, an exit record) goes now: its handle is forgotten once recorded stopped.
  await backend.reap(c.unit, c.handle).catch((e: Error) => void warnings.push(`${c.unit}: ${e.message}`));
  const post = svc && (await runHook(ctx, svc, c.unit, "post_stop"));
  if (post) warnings.push(post);
  if (r.forced) warnings.unshift(endMessage(c.unit, { kind: "stop-timeout", timeoutMs: c.timeoutMs, signal: c.signal }));
  return { unit: c.unit, handle: c.handle, forced: r.forced, durationMs: r.durationMs, warnings };
}

/** Outside the lock: stop every claimed unit of the service. */
async function awaitStopped(ctx: Ctx, svc: Service | undefined, claims: StopClaim[]): Promise<Outcome> {
  let results: StopResult[];
  try {
    results = await Promise.all(claims.map((c) => stopUnit(ctx, svc, c)));
  } catch (e) {
    // Its backend cannot be reached: it stays stopping, for the next sv down or reconcile to finish.
    if (!(e instanceof SvError)) throw e;
    return { ok: false, message: e.message };
  }
  const notes = results.flatMap((r) => r.warnings);
  return { ok: true, message: notes.length ? `stopped (${notes.join("; ")})` : "stopped", data: results };
}

/** Under the lock: stopping -> stopped for a unit we stopped, if it is still that unit. */
export function recordUnitStopped(tx: Tx, r: StopResult): void {
  const unit = tx.unit(r.unit);
  if (JSON.stringify(unit.handle) !== JSON.stringify(r.handle) || unit.state !== "stopping") return;
  unit.handle = null;
  unit.health = "unknown";
  unit.owner_pid = unit.owner_ticks = null;
  tx.events.push(transition(r.unit, unit, "stopped", r.forced ? "killed with SIGKILL after stop_timeout" : "stopped"));
}

function recordStopped(tx: Tx, results: Map<string, Outcome>): Map<string, Outcome> {
  for (const outcome of results.values()) for (const r of (outcome.data as StopResult[] | undefined) ?? []) recordUnitStopped(tx, r);
  return results;
}

/** After the whole project stopped: each backend removes what its units shared (networks; named volumes with `volumes`). */
export async function teardownProject(ctx: Ctx, opts: { volumes: boolean }): Promise<void> {
  for (const b of ctx.backends.all) {
    if (!b.teardown || ![...ctx.project.services.values()].some((s) => b.runs(s))) continue;
    try {
      await b.teardown(opts);
    } catch (e) {
      if (!(e instanceof SvError)) throw e;
      ctx.reporter.warn(e.message);
    }
  }
}
