// `sv down`: stop services and everything that depends on them, dependents first.
import type { Service } from "../config/schema.ts";
import { dependencyOrder, resolveNames, withDependents } from "../config/project.ts";
import { stopGracefully } from "../runtime/signals.ts";
import { readState, type Tx } from "../store/store.ts";
import { reapLeftovers } from "./launch.ts";
import { commit } from "./commit.ts";
import { runHook } from "./hooks.ts";
import type { Ctx } from "./context.ts";
import { runGraph, type Outcome } from "./orchestrate.ts";
import { transition } from "./states.ts";
import { unitNames } from "./units.ts";

export interface StopClaim {
  unit: string;
  pid: number;
  ticks: number;
}
export interface StopResult {
  unit: string;
  pid: number;
  forced: boolean;
  durationMs: number;
  warnings: string[];
}

/** Stop `names` (default: all) and their dependents; one outcome per service. */
export async function stopServices(ctx: Ctx, names: string[]): Promise<Map<string, Outcome>> {
  const requested = names.length > 0 ? resolveNames(ctx.project, names) : [...ctx.project.services.keys()];
  const targets = dependencyOrder(ctx.project, withDependents(ctx.project, requested)).reverse();
  ctx.reporter.plan(targets);
  const state = readState(ctx.paths);
  await reapLeftovers(targets.flatMap((n) => unitNames(ctx.project.services.get(n)!, state)).map((u) => state.units[u]));
  return runGraph<StopClaim[], Tx>({
    nodes: targets,
    transact: (fn) => commit(ctx, fn),
    // Wanted down first, for all of them: a reconciler must not revive what we are about to stop.
    prepare: (tx) => {
      for (const n of targets) for (const u of unitNames(ctx.project.services.get(n)!, tx.state)) tx.unit(u).wanted = "down";
    },
    maxParallel: Number.POSITIVE_INFINITY,
    // A service stops only after everything that depends on it (or is ordered after it) has stopped.
    prerequisites: (node) =>
      [...ctx.project.services.values()]
        .filter((s) => node in s.dependsOn || s.after.includes(node) || ctx.project.services.get(node)!.before.includes(s.name))
        .map((s) => ({ name: s.name, hard: false })),
    begin: (tx, nodes) => new Map(nodes.map((n) => [n, claimStop(ctx, tx, ctx.project.services.get(n)!)])),
    work: (node, claims) => awaitStopped(ctx, ctx.project.services.get(node)!, claims),
    finish: recordStopped,
    onSettled: (node, o) => ctx.reporter.update(node, o.ok ? "ok" : "failed", o.message),
  });
}

/**
 * Under the lock: a running, starting or stopping unit goes to stopping, owned by us. The claim to stop
 * its process, or null when it has none (then it is stopped at once).
 */
export function claimUnitStop(ctx: Ctx, tx: Tx, name: string, reason: string): StopClaim | null {
  const unit = tx.unit(name);
  if (unit.state !== "stopping") tx.events.push(transition(name, unit, "stopping", reason));
  if (unit.pid !== null && unit.start_ticks !== null) {
    unit.owner_pid = ctx.self.pid;
    unit.owner_ticks = ctx.self.ticks;
    return { unit: name, pid: unit.pid, ticks: unit.start_ticks };
  }
  unit.owner_pid = unit.owner_ticks = null;
  tx.events.push(transition(name, unit, "stopped", "no process"));
  return null;
}

/** Under the lock: mark wanted down; running/starting units go to stopping, owned by us. */
function claimStop(ctx: Ctx, tx: Tx, svc: Service): StopClaim[] | Outcome {
  const claims: StopClaim[] = [];
  for (const name of unitNames(svc, tx.state)) {
    const unit = tx.unit(name);
    unit.wanted = "down";
    unit.next_restart_at = null;
    if (unit.state === "completed" || unit.state === "error") {
      tx.events.push(transition(name, unit, "stopped", "sv down"));
    } else if (unit.state === "running" || unit.state === "starting" || unit.state === "stopping") {
      const claim = claimUnitStop(ctx, tx, name, "sv down");
      if (claim) claims.push(claim);
    }
  }
  if (claims.length === 0) return { ok: true, message: "stopped" };
  ctx.reporter.update(svc.name, "stopping", "stopping");
  return claims;
}

/** Outside the lock: signal one unit's process group and wait for it to go, with pre_stop/post_stop hooks. */
export async function stopUnit(ctx: Ctx, svc: Service, c: StopClaim): Promise<StopResult> {
  const warnings: string[] = [];
  const pre = await runHook(ctx, svc, c.unit, "pre_stop");
  if (pre) warnings.push(pre);
  const r = await stopGracefully(c.pid, c.ticks, svc.stopSignal, svc.stopTimeoutMs);
  const post = await runHook(ctx, svc, c.unit, "post_stop");
  if (post) warnings.push(post);
  return { unit: c.unit, pid: c.pid, forced: r.forced, durationMs: r.durationMs, warnings };
}

/** Outside the lock: stop every claimed unit of the service. */
async function awaitStopped(ctx: Ctx, svc: Service, claims: StopClaim[]): Promise<Outcome> {
  const results = await Promise.all(claims.map((c) => stopUnit(ctx, svc, c)));
  const forced = results.filter((r) => r.forced);
  const notes = [
    ...forced.map((r) => `${r.unit} did not stop within ${svc.stopTimeoutMs} ms and was killed with SIGKILL`),
    ...results.flatMap((r) => r.warnings),
  ];
  return { ok: true, message: notes.length ? `stopped (${notes.join("; ")})` : "stopped", data: results };
}

/** Under the lock: stopping -> stopped for a unit we stopped, if it is still that process. */
export function recordUnitStopped(tx: Tx, r: StopResult): void {
  const unit = tx.unit(r.unit);
  if (unit.pid !== r.pid || unit.state !== "stopping") return;
  unit.pid = null;
  unit.start_ticks = null;
  unit.health = "unknown";
  unit.owner_pid = unit.owner_ticks = null;
  tx.events.push(transition(r.unit, unit, "stopped", r.forced ? "killed with SIGKILL after stop_timeout" : "stopped"));
}

function recordStopped(tx: Tx, results: Map<string, Outcome>): Map<string, Outcome> {
  for (const outcome of results.values()) for (const r of (outcome.data as StopResult[] | undefined) ?? []) recordUnitStopped(tx, r);
  return results;
}
