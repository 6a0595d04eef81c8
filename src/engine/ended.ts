// Recording that a unit ended (under the lock): the one place that moves a unit to restarting,
// completed or error, by its service's policy.
import type { Service } from "../config/schema.ts";
import type { Tx } from "../store/store.ts";
import { afterEnd } from "./plan.ts";
import { note, transition } from "./states.ts";

export interface End {
  /** Exited 0 (or a oneshot completed): not a failure. */
  clean: boolean;
  /** How it ended, from endMessage (or why the start failed). */
  reason: string;
  exitCode?: number | null;
}

/** Under the lock: `unitName` ended; keep its handle (its leftovers are reaped before the next start). */
export function recordEnd(tx: Tx, svc: Service | undefined, unitName: string, end: End, now = new Date()): void {
  const unit = tx.unit(unitName);
  unit.health = "unknown";
  unit.owner_pid = unit.owner_ticks = null;
  if (end.exitCode !== undefined) unit.exit_code = end.exitCode;
  if (end.clean) {
    unit.last_error = null;
    unit.failures = 0;
    unit.gave_up_at = null;
  } else {
    unit.last_error = end.reason;
    unit.failures += 1;
  }
  const next = afterEnd(svc, unit, end.clean, end.reason, now.getTime());
  unit.next_restart_at = next.to === "restarting" ? new Date(next.at).toISOString() : null;
  if ("gaveUp" in next) unit.gave_up_at = now.toISOString();
  const reason = next.reason ?? end.reason;
  if (unit.state === next.to) {
    tx.events.push(note(unitName, unit, reason, now));
    return;
  }
  // A start that failed before anything was created (a pre_start hook): it passes through starting.
  if (unit.state !== "starting" && unit.state !== "running") tx.events.push(transition(unitName, unit, "starting", "start", now));
  tx.events.push(transition(unitName, unit, next.to, reason, now));
}
