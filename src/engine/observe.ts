// Refresh: look at reality (are recorded units still alive? do health checks pass?) and record it.
import { type Inspection, Unreachable } from "../backends/backend.ts";
import type { Service } from "../config/schema.ts";
import { SvError } from "../errors.ts";
import { runProbe, type ProbeResult } from "../probes/index.ts";
import { isAlive } from "../store/owner.ts";
import { readState, type StoreState, type Tx, type Unit } from "../store/store.ts";
import { adoptDiscovered } from "./adopt.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { recordEnd } from "./ended.ts";
import { endMessage, isClean } from "./ending.ts";
import { probeRunner } from "./hooks.ts";
import { orphanUnits } from "./orphans.ts";
import { note, type SvEvent, transition } from "./states.ts";
import { instanceOf, instancePortOf, serviceOf, unitNames } from "./units.ts";

export interface Observation {
  unit: string;
  /** The handle and state we looked at; the record is only changed if they still hold (compare-and-set). */
  handle: string;
  state: Unit["state"];
  seen: Inspection;
  probe?: ProbeResult;
}

/** Is someone else (a live sv) driving this unit's transition right now? */
export function isOwnedByOther(unit: Unit, self: Ctx["self"]): boolean {
  if (unit.owner_pid === null || unit.owner_pid === self.pid) return false;
  return isAlive(unit.owner_pid, unit.owner_ticks);
}

/** Observe `units` without holding the lock: liveness for all, a probe for live running ones (where `probeIf` allows). */
export async function observe(ctx: Ctx, state: StoreState, units: string[], probeIf: (unit: string) => boolean = () => true): Promise<Observation[]> {
  const out: Observation[] = [];
  await Promise.all(
    units.map(async (name) => {
      const unit = state.units[name];
      if (!unit || !["running", "starting", "stopping"].includes(unit.state) || isOwnedByOther(unit, ctx.self)) return;
      if (unit.owner_pid === ctx.self.pid) return;
      // Running or stopping with nothing recorded to look at (a hand-edited or sv 0.1 record): it is gone.
      // (Starting without a handle is an intent: its start is resumed by the planner.)
      if (!unit.handle) {
        if (unit.state !== "starting") out.push({ unit: name, handle: "null", state: unit.state, seen: { alive: false, pid: null } });
        return;
      }
      const backend = ctx.backends.of(unit.handle);
      let seen: Inspection;
      try {
        seen = await backend.inspect(name, unit.handle);
      } catch (e) {
        // Its backend cannot be reached (an engine or a host that is down): nothing is known, so nothing changes.
        if (!(e instanceof SvError)) throw e;
        if (e instanceof Unreachable) ctx.unknown.set(name, { where: e.where, since: e.since });
        ctx.reporter.warn(e.message);
        return;
      }
      ctx.unknown.delete(name);
      const obs: Observation = { unit: name, handle: JSON.stringify(unit.handle), state: unit.state, seen };
      const svc = ctx.project.services.get(serviceOf(name));
      if (seen.alive && svc && unit.state !== "stopping" && probeIf(name)) {
        const instance = instanceOf(name);
        obs.probe = await runProbe(svc, { alive: true, host: backend.address(svc, instance).host, port: instancePortOf(svc, instance), run: probeRunner(ctx, svc, name) });
      }
      out.push(obs);
    }),
  );
  return out;
}

/** Does this observation change the record? (So a quiet `sv status` writes nothing.) */
function changes(unit: Unit, obs: Observation): boolean {
  if (!obs.seen.alive) return true;
  if (obs.seen.pid !== null && obs.seen.pid !== unit.handle?.pid) return true;
  if (!obs.probe) return false;
  if (unit.state === "starting") return obs.probe.ok;
  return obs.probe.ok ? unit.health !== "healthy" || unit.health_failures > 0 : true;
}

/** Under the lock: apply observations whose handle and state still hold. */
export function applyObservations(tx: Tx, ctx: Ctx, observations: Observation[]): void {
  const now = new Date();
  for (const obs of observations) {
    const unit = tx.state.units[obs.unit];
    if (!unit || JSON.stringify(unit.handle) !== obs.handle || unit.state !== obs.state || !changes(unit, obs)) continue;
    const svc = ctx.project.services.get(serviceOf(obs.unit));
    if (!obs.seen.alive) applyDeath(tx, svc, obs, now);
    else {
      if (obs.seen.pid !== null && unit.handle) unit.handle = { ...unit.handle, pid: obs.seen.pid };
      if (obs.probe) applyProbe(tx, svc, obs.unit, obs.probe, now);
    }
  }
}

/** The unit's process is gone: stopped (a stop finished), an abandoned start, or an end for the policy. */
function applyDeath(tx: Tx, svc: Service | undefined, obs: Observation, now: Date): void {
  const unit = tx.unit(obs.unit);
  if (unit.state === "stopping") {
    unit.health = "unknown";
    unit.owner_pid = unit.owner_ticks = null;
    tx.events.push(transition(obs.unit, unit, "stopped", "stopped", now));
    return;
  }
  if (obs.seen.unborn && unit.state === "starting") {
    // Its sv died between creating and releasing it: it never ran; the start is still to be done.
    unit.handle = null;
    unit.owner_pid = unit.owner_ticks = null;
    return;
  }
  const exit = obs.seen.exit;
  const oneshot = svc?.type === "oneshot" || svc?.type === "multi-shot";
  const clean = isClean(exit) && (unit.state === "running" || oneshot);
  const reason = clean ? "exited with code 0" : endMessage(obs.unit, { kind: "exit", exit }, unit.state === "starting");
  recordEnd(tx, svc, obs.unit, { clean, reason, exitCode: exit?.code ?? null }, now);
}

/** A health check result for a live unit: starting -> running, or liveness bookkeeping. */
function applyProbe(tx: Tx, svc: Service | undefined, name: string, probe: ProbeResult, now: Date): void {
  const unit = tx.unit(name);
  if (unit.state === "starting" && probe.ok) {
    unit.health = "healthy";
    unit.health_failures = 0;
    unit.owner_pid = unit.owner_ticks = null;
    tx.events.push(transition(name, unit, "running", "health check passed", now));
  } else if (probe.ok) {
    if (unit.health === "unhealthy") tx.events.push(note(name, unit, "health check passed again", now));
    unit.health = "healthy";
    unit.health_failures = 0;
    unit.health_failed_at = null;
  } else if (unit.state === "running") {
    // `retries` means that many check intervals of failing, however often sv looks (status, cron loops).
    const last = unit.health_failed_at === null ? 0 : Date.parse(unit.health_failed_at);
    if (!svc || now.getTime() - last >= svc.healthCheck.intervalMs * 0.9) {
      unit.health_failures += 1;
      unit.health_failed_at = now.toISOString();
    }
    unit.last_error = probe.reason;
    if (svc && isPastStartPeriod(unit, svc, now) && unit.health_failures >= svc.healthCheck.retries && unit.health !== "unhealthy") {
      unit.health = "unhealthy";
      tx.events.push(note(name, unit, `unhealthy: ${probe.reason}`, now));
    }
  }
}

function isPastStartPeriod(unit: Unit, svc: Service, now: Date): boolean {
  return unit.started_at === null || now.getTime() - Date.parse(unit.started_at) >= svc.healthCheck.startPeriodMs;
}

export interface RefreshOptions {
  /** Which live units to probe (default all): watch probes each on its own interval. */
  probeIf?: (unit: string) => boolean;
  /** Receives the events the refresh recorded. */
  events?: SvEvent[];
  /** Units to leave alone (watch: work in flight). */
  exclude?: Set<string>;
  /** Also observe orphans (units whose service is gone). */
  orphans?: boolean;
}

/** The units of `services` (orphans included), as recorded in `state`. */
export function unitsOf(ctx: Ctx, state: StoreState, services: string[]): string[] {
  return services.flatMap((n) => {
    const svc = ctx.project.services.get(n);
    return svc ? unitNames(svc, state) : orphanUnits(state, n);
  });
}

/** Observe and record the units of `services` (default all, orphans too): the state after looking at reality. Takes the lock only if something changed. */
export async function refresh(ctx: Ctx, services?: string[], opts: RefreshOptions = {}): Promise<StoreState> {
  const state = await adoptDiscovered(ctx, readState(ctx.paths));
  const names = (services ? unitsOf(ctx, state, services) : Object.keys(state.units)).filter((u) => !opts.exclude?.has(u));
  const observations = await observe(ctx, state, names, opts.probeIf);
  const changed = observations.filter((o) => changes(state.units[o.unit]!, o));
  if (changed.length === 0) return state;
  return commit(ctx, (tx) => {
    applyObservations(tx, ctx, changed);
    opts.events?.push(...tx.events);
    return tx.state;
  });
}
