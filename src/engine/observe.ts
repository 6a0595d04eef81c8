// Refresh: look at reality (are recorded pids still our processes? do health checks pass?) and record it.
import type { Service } from "../config/schema.ts";
import { runProbe, type ProbeResult } from "../probes/index.ts";
import { isSameProcess } from "../runtime/identity.ts";
import { childExit, type ExitStatus } from "../runtime/spawn.ts";
import { readState, type StoreState, type Tx, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { note, type SvEvent, transition } from "./states.ts";
import { processEnv } from "./hooks.ts";
import { serviceOf, unitNames } from "./units.ts";

export interface Observation {
  unit: string;
  /** The pid and state we looked at; the record is only changed if they still hold (compare-and-set). */
  pid: number | null;
  state: Unit["state"];
  alive: boolean;
  probe?: ProbeResult;
  /** How it exited, when this sv spawned it (watch restarts are its children). */
  exit?: ExitStatus;
}

/** Is someone else (a live sv) driving this unit's transition right now? */
export function isOwnedByOther(unit: Unit, self: Ctx["self"]): boolean {
  if (unit.owner_pid === null || unit.owner_pid === self.pid) return false;
  return isSameProcess(unit.owner_pid, unit.owner_ticks);
}

/** Observe `units` without holding the lock: liveness for all, a probe for live running ones (where `probeIf` allows). */
export async function observe(ctx: Ctx, state: StoreState, units: string[], probeIf: (unit: string) => boolean = () => true): Promise<Observation[]> {
  const out: Observation[] = [];
  await Promise.all(
    units.map(async (name) => {
      const unit = state.units[name];
      if (!unit || !["running", "starting", "stopping"].includes(unit.state) || isOwnedByOther(unit, ctx.self)) return;
      if (unit.owner_pid === ctx.self.pid) return;
      const alive = isSameProcess(unit.pid, unit.start_ticks);
      const obs: Observation = { unit: name, pid: unit.pid, state: unit.state, alive };
      if (!alive && unit.pid !== null) obs.exit = await childExit(unit.pid);
      const svc = ctx.project.services.get(serviceOf(name));
      if (alive && svc && unit.state !== "stopping" && probeIf(name)) {
        obs.probe = await runProbe(svc, { pid: unit.pid, startTicks: unit.start_ticks, alive: true, env: () => processEnv(ctx, svc, name) });
      }
      out.push(obs);
    }),
  );
  return out;
}

/** Does this observation change the record? (So a quiet `sv status` writes nothing.) */
function changes(unit: Unit, obs: Observation): boolean {
  if (!obs.alive) return true;
  if (!obs.probe) return false;
  if (unit.state === "starting") return obs.probe.ok;
  return obs.probe.ok ? unit.health !== "healthy" || unit.health_failures > 0 : true;
}

/** Under the lock: apply observations whose pid and state still hold. */
export function applyObservations(tx: Tx, ctx: Ctx, observations: Observation[]): void {
  const now = new Date();
  for (const obs of observations) {
    const unit = tx.state.units[obs.unit];
    if (!unit || unit.pid !== obs.pid || unit.state !== obs.state || !changes(unit, obs)) continue;
    const svc = ctx.project.services.get(serviceOf(obs.unit));
    if (!obs.alive) {
      const { to, reason } = deathOf(unit.state, obs.exit);
      // pid and start_ticks stay: leftovers of its process group are reaped before the next start.
      unit.health = "unknown";
      unit.owner_pid = unit.owner_ticks = null;
      if (obs.exit) unit.exit_code = obs.exit.code;
      if (to === "error") {
        unit.last_error = reason;
        unit.failures += 1;
      }
      tx.events.push(transition(obs.unit, unit, to, reason, now));
      continue;
    }
    const probe = obs.probe!;
    if (unit.state === "starting" && probe.ok) {
      unit.health = "healthy";
      unit.health_failures = 0;
      unit.owner_pid = unit.owner_ticks = null;
      tx.events.push(transition(obs.unit, unit, "running", "health check passed", now));
    } else if (probe.ok) {
      if (unit.health === "unhealthy") tx.events.push(note(obs.unit, unit, "health check passed again", now));
      unit.health = "healthy";
      unit.health_failures = 0;
      unit.health_failed_at = null;
    } else {
      // `retries` means that many check intervals of failing, however often sv looks (status, cron loops).
      const last = unit.health_failed_at === null ? 0 : Date.parse(unit.health_failed_at);
      if (!svc || now.getTime() - last >= svc.healthCheck.intervalMs * 0.9) {
        unit.health_failures += 1;
        unit.health_failed_at = now.toISOString();
      }
      unit.last_error = probe.reason;
      if (svc && isPastStartPeriod(unit, svc, now) && unit.health_failures >= svc.healthCheck.retries && unit.health !== "unhealthy") {
        unit.health = "unhealthy";
        tx.events.push(note(obs.unit, unit, `unhealthy: ${probe.reason}`, now));
      }
    }
  }
}

/** Where a unit goes when its process is found gone, and why; a clean exit (code 0) is no failure. */
function deathOf(state: Unit["state"], exit: ExitStatus | undefined): { to: "stopped" | "error" | "completed"; reason: string } {
  if (state === "stopping") return { to: "stopped", reason: "stopped" };
  const how = exit ? (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`) : undefined;
  if (state === "starting") return { to: "error", reason: how ? `${how} while starting` : "exited while starting" };
  if (exit?.code === 0) return { to: "completed", reason: "exited with code 0" };
  return { to: "error", reason: how ? `${how}` : "exited unexpectedly (exit status unknown: sv was not its parent)" };
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
}

/** Observe and record the units of `services` (default all): the state after looking at reality. Takes the lock only if something changed. */
export async function refresh(ctx: Ctx, services: string[] = [...ctx.project.services.keys()], opts: RefreshOptions = {}): Promise<StoreState> {
  const state = readState(ctx.paths);
  const names = services.flatMap((n) => unitNames(ctx.project.services.get(n)!, state)).filter((u) => !opts.exclude?.has(u));
  const observations = await observe(ctx, state, names, opts.probeIf);
  const changed = observations.filter((o) => changes(state.units[o.unit]!, o));
  if (changed.length === 0) return state;
  return commit(ctx, (tx) => {
    applyObservations(tx, ctx, changed);
    opts.events?.push(...tx.events);
    return tx.state;
  });
}
