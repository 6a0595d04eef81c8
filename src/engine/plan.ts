// The planner: what the watchdog should do with one unit, given what it wants and what is; and where a
// unit goes when it ends. Pure, so `sv watch` and `sv reconcile` (cron) decide the same from the same state.
import type { Service } from "../config/schema.ts";
import type { Unit } from "../store/store.ts";
import { isStable, restartDelayMs } from "./backoff.ts";

export type Action =
  /** (Re)start the unit now; `restart` counts it as a restart by the policy. */
  | { kind: "start"; reason: string; restart: boolean }
  /** Kill the live process (unhealthy, or never ready within start_timeout) and let the policy restart it. */
  | { kind: "restart"; reason: string }
  /** The unit has stayed up long enough: forget its past failures. */
  | { kind: "reset-backoff"; reason: string }
  /** Stop a process that is not wanted (or finish a stop whose sv died). */
  | { kind: "stop"; reason: string }
  /** A restarting unit whose policy no longer restarts it (the definition changed): it ends where afterEnd says. */
  | { kind: "settle"; reason: string };

/** Does the restart policy restart after this end? `clean` = exited 0 / completed. */
export function policyRestarts(svc: Service, clean: boolean): boolean {
  if (svc.type === "oneshot" || svc.type === "multi-shot") return !clean && svc.restart !== "no";
  return svc.restart === "always" || (svc.restart === "on-failure" && !clean);
}

/** Where a unit goes when it ends (its `failures` already counting this end, if it was one). */
export type AfterEnd =
  | { to: "completed" | "error"; reason?: string }
  | { to: "restarting"; at: number; reason: string }
  | { to: "error"; gaveUp: true; reason: string };

/** The end of a unit under its service's policy: restarting at a time, completed, error, or given up on. */
export function afterEnd(svc: Service | undefined, unit: Unit, clean: boolean, why: string, now: number): AfterEnd {
  // A unit wanted down is not brought back, whatever the policy (a stop in progress, a finished multi-shot run).
  if (!svc || unit.wanted === "down" || !policyRestarts(svc, clean)) return { to: clean ? "completed" : "error" };
  if (!clean && svc.maxRestarts > 0 && unit.failures > svc.maxRestarts) {
    return { to: "error", gaveUp: true, reason: `gave up after ${svc.maxRestarts} restarts (max_restarts): ${why}` };
  }
  // A clean exit is no failure, so it never gives up; it waits restart_delay, so an instantly exiting command cannot spin.
  const delay = clean ? svc.restartDelayMs : restartDelayMs(unit.failures, svc.restartDelayMs, svc.restartMaxDelayMs);
  return { to: "restarting", at: now + delay, reason: delay > 0 ? `${why}; restart in ${delay} ms (attempt ${unit.restarts + 1})` : why };
}

export interface PlanOptions {
  /** The unit's start_timeout: a start adopted from an sv that died fails after it. */
  startTimeoutMs?: number;
}

/**
 * One decision for one unit, or null. `ownedByOther`: a live sv is driving its transition, hands off.
 * `now` is epoch ms.
 */
export function planUnit(svc: Service, unit: Unit, now: number, ownedByOther: boolean, opts: PlanOptions = {}): Action | null {
  if (ownedByOther) return null;
  if (unit.wanted === "down") {
    return ["running", "starting", "stopping", "restarting"].includes(unit.state) ? { kind: "stop", reason: "wanted down" } : null;
  }
  switch (unit.state) {
    case "stopping":
      return { kind: "stop", reason: "finishing a stop whose sv exited" };
    case "starting":
      // Its sv died: before creating anything (start it), or while it was coming up (adopted: give it its start_timeout).
      if (unit.handle === null) return { kind: "start", reason: "resuming a start whose sv exited", restart: false };
      if (unit.started_at !== null && now - Date.parse(unit.started_at) >= (opts.startTimeoutMs ?? 60_000)) {
        return { kind: "restart", reason: `not ready within ${opts.startTimeoutMs ?? 60_000} ms (start_timeout)` };
      }
      return null;
    case "stopped":
      return { kind: "start", reason: "wanted up", restart: false };
    case "running":
      if (unit.health === "unhealthy" && svc.restart !== "no") return { kind: "restart", reason: `unhealthy: ${unit.last_error ?? "health check failed"}` };
      if (unit.failures > 0 && isStable(unit.started_at, now)) return { kind: "reset-backoff", reason: "stayed up; backoff reset" };
      return null;
    case "completed":
      return null;
    case "restarting":
      if (!policyRestarts(svc, unit.exit_code === 0 && unit.last_error === null)) return { kind: "settle", reason: "its restart policy no longer restarts it" };
      if (unit.next_restart_at !== null && now < Date.parse(unit.next_restart_at)) return null;
      return { kind: "start", reason: `restarting: ${unit.last_error ?? "it ended"}`, restart: true };
    case "error":
      return retryAfterError(svc, unit, now);
  }
}

/** retry_after_error: a unit sv gave up on is tried again every restart_max_delay. */
function retryAfterError(svc: Service, unit: Unit, now: number): Action | null {
  if (unit.gave_up_at === null || !svc.retryAfterError) return null;
  // From the later of giving up and the last failure (`since`): a failed retry waits the cap again.
  const at = Math.max(Date.parse(unit.gave_up_at), unit.since === null ? 0 : Date.parse(unit.since)) + svc.restartMaxDelayMs;
  return now >= at ? { kind: "start", reason: `retry_after_error: retrying ${Math.round(svc.restartMaxDelayMs / 1000)} s after giving up`, restart: true } : null;
}
