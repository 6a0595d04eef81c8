// The planner: what the watchdog should do with one unit, given what it wants and what is. Pure,
// so `sv watch` and `sv reconcile` (cron) make the same decisions from the same state.
import type { Service } from "../config/schema.ts";
import type { Unit } from "../store/store.ts";
import { isStable, restartDelayMs } from "./backoff.ts";

export type Action =
  /** (Re)start the unit now; `restart` counts it as a restart by the policy. */
  | { kind: "start"; reason: string; restart: boolean }
  /** Kill the running (unhealthy) process and start it again. */
  | { kind: "restart"; reason: string }
  /** Record that a restart is due at `at` (backoff). */
  | { kind: "schedule"; at: number; reason: string }
  /** max_restarts reached: stay in error and fire the on_failure actions. */
  | { kind: "give-up"; reason: string }
  /** The unit has stayed up long enough: forget its past failures. */
  | { kind: "reset-backoff"; reason: string }
  /** Stop a process that is not wanted (or finish a stop whose sv died). */
  | { kind: "stop"; reason: string };

/** Does the restart policy restart after this end? `clean` = exited 0 / completed. */
function policyRestarts(svc: Service, clean: boolean): boolean {
  if (svc.type === "oneshot" || svc.type === "multi-shot") return !clean && svc.restart !== "no";
  return svc.restart === "always" || (svc.restart === "on-failure" && !clean);
}

/**
 * One decision for one unit, or null. `ownedByOther`: a live sv is driving its transition, hands off.
 * `now` is epoch ms.
 */
export function planUnit(svc: Service, unit: Unit, now: number, ownedByOther: boolean): Action | null {
  if (ownedByOther) return null;
  if (unit.wanted === "down") {
    return unit.state === "running" || unit.state === "starting" || unit.state === "stopping" ? { kind: "stop", reason: "wanted down" } : null;
  }
  switch (unit.state) {
    case "stopping":
      return { kind: "stop", reason: "finishing a stop whose sv exited" };
    case "starting":
      return null;
    case "stopped":
      return { kind: "start", reason: "wanted up", restart: false };
    case "running":
      if (unit.health === "unhealthy" && svc.restart !== "no") return { kind: "restart", reason: `unhealthy: ${unit.last_error ?? "health check failed"}` };
      if (unit.failures > 0 && isStable(unit.started_at, now)) return { kind: "reset-backoff", reason: "stayed up; backoff reset" };
      return null;
    case "completed":
      // A clean exit is no failure, so it never gives up; it waits restart_delay, so an instantly exiting
      // command cannot spin.
      return policyRestarts(svc, true) ? due(svc, unit, now, "exited cleanly; restart: always", svc.restartDelayMs) : null;
    case "error":
      return policyRestarts(svc, false) ? due(svc, unit, now, unit.last_error ?? "failed") : null;
  }
}

/** A restart after a failure: now, later (backoff), never again (max_restarts), or again after the cap (retry_after_error). */
function due(svc: Service, unit: Unit, now: number, why: string, minDelayMs = 0): Action | null {
  if (unit.gave_up_at !== null) {
    if (!svc.retryAfterError) return null;
    // From the later of giving up and the last failure (`since`): a failed retry waits the cap again.
    const at = Math.max(Date.parse(unit.gave_up_at), unit.since === null ? 0 : Date.parse(unit.since)) + svc.restartMaxDelayMs;
    return now >= at ? { kind: "start", reason: `retry_after_error: retrying ${Math.round(svc.restartMaxDelayMs / 1000)} s after giving up`, restart: true } : null;
  }
  if (svc.maxRestarts > 0 && unit.failures > svc.maxRestarts) {
    return { kind: "give-up", reason: `gave up after ${svc.maxRestarts} restarts (max_restarts): ${why}` };
  }
  if (unit.next_restart_at === null) {
    const delay = Math.max(minDelayMs, restartDelayMs(unit.failures, svc.restartDelayMs, svc.restartMaxDelayMs));
    if (delay > 0) return { kind: "schedule", at: now + delay, reason: `restart in ${delay} ms (attempt ${unit.restarts + 1}): ${why}` };
    return { kind: "start", reason: `restarting: ${why}`, restart: true };
  }
  return now >= Date.parse(unit.next_restart_at) ? { kind: "start", reason: `restarting: ${why}`, restart: true } : null;
}
