// `sv down`: stop services and everything that depends on them, dependents first.
import type { Service } from "../config/schema.ts";
import { resolveNames, withDependents } from "../config/project.ts";
import { stopGracefully } from "../runtime/signals.ts";
import { type Tx, withState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { runGraph, type Outcome } from "./orchestrate.ts";
import { transition } from "./states.ts";
import { unitNames } from "./units.ts";

interface StopClaim {
  unit: string;
  pid: number;
  ticks: number;
}
interface StopResult {
  unit: string;
  pid: number;
  forced: boolean;
  durationMs: number;
}

/** Stop `names` (default: all) and their dependents; one outcome per service. */
export async function stopServices(ctx: Ctx, names: string[]): Promise<Map<string, Outcome>> {
  const requested = names.length > 0 ? resolveNames(ctx.project, names) : [...ctx.project.services.keys()];
  const targets = [...withDependents(ctx.project, requested)];
  ctx.reporter.plan(targets);
  // Wanted down first, for all of them: a reconciler must not revive what we are about to stop.
  await withState(ctx.paths, (tx) => {
    for (const n of targets) for (const u of unitNames(ctx.project.services.get(n)!)) tx.unit(u).wanted = "down";
  }, { waitMs: ctx.lockWaitMs });
  return runGraph<StopClaim[]>({
    nodes: targets,
    maxParallel: Number.POSITIVE_INFINITY,
    // A service stops only after everything that depends on it (or is ordered after it) has stopped.
    prerequisites: (node) =>
      [...ctx.project.services.values()]
        .filter((s) => node in s.dependsOn || s.after.includes(node) || ctx.project.services.get(node)!.before.includes(s.name))
        .map((s) => ({ name: s.name, hard: false })),
    begin: (nodes) => withState(ctx.paths, (tx) => new Map(nodes.map((n) => [n, claimStop(ctx, tx, ctx.project.services.get(n)!)])), { waitMs: ctx.lockWaitMs }),
    work: (node, claims) => awaitStopped(ctx.project.services.get(node)!, claims),
    finish: (results) => withState(ctx.paths, (tx) => recordStopped(tx, results), { waitMs: ctx.lockWaitMs }),
    onSettled: (node, o) => ctx.reporter.update(node, o.ok ? "ok" : "failed", o.message),
  });
}

/** Under the lock: mark wanted down; running/starting units go to stopping, owned by us. */
function claimStop(ctx: Ctx, tx: Tx, svc: Service): StopClaim[] | Outcome {
  const claims: StopClaim[] = [];
  for (const name of unitNames(svc)) {
    const unit = tx.unit(name);
    unit.wanted = "down";
    unit.next_restart_at = null;
    if (unit.state === "completed" || unit.state === "error") {
      tx.events.push(transition(name, unit, "stopped", "sv down"));
    } else if (unit.state === "running" || unit.state === "starting" || unit.state === "stopping") {
      if (unit.state !== "stopping") tx.events.push(transition(name, unit, "stopping", "sv down"));
      unit.owner_pid = ctx.self.pid;
      unit.owner_ticks = ctx.self.ticks;
      if (unit.pid !== null && unit.start_ticks !== null) claims.push({ unit: name, pid: unit.pid, ticks: unit.start_ticks });
      else {
        unit.owner_pid = unit.owner_ticks = null;
        tx.events.push(transition(name, unit, "stopped", "no process"));
      }
    }
  }
  if (claims.length === 0) return { ok: true, message: "stopped" };
  ctx.reporter.update(svc.name, "stopping", "stopping");
  return claims;
}

/** Outside the lock: signal every unit's process group and wait for it to go. */
async function awaitStopped(svc: Service, claims: StopClaim[]): Promise<Outcome> {
  const results = await Promise.all(
    claims.map(async (c): Promise<StopResult> => {
      const r = await stopGracefully(c.pid, c.ticks, svc.stopSignal, svc.stopTimeoutMs);
      return { unit: c.unit, pid: c.pid, forced: r.forced, durationMs: r.durationMs };
    }),
  );
  const forced = results.filter((r) => r.forced);
  const message = forced.length
    ? `stopped: ${forced.map((r) => r.unit).join(", ")} did not stop within ${svc.stopTimeoutMs} ms and was killed with SIGKILL`
    : "stopped";
  return { ok: true, message, data: results };
}

/** Under the lock: stopping -> stopped for the units we stopped. */
function recordStopped(tx: Tx, results: Map<string, Outcome>): Map<string, Outcome> {
  for (const outcome of results.values()) {
    for (const r of (outcome.data as StopResult[] | undefined) ?? []) {
      const unit = tx.unit(r.unit);
      if (unit.pid !== r.pid || unit.state !== "stopping") continue;
      unit.pid = null;
      unit.start_ticks = null;
      unit.health = "unknown";
      unit.owner_pid = unit.owner_ticks = null;
      tx.events.push(transition(r.unit, unit, "stopped", r.forced ? "killed with SIGKILL after stop_timeout" : "stopped"));
    }
  }
  return results;
}
