// `essential: true` under `sv init`: when such a service ends for good, the container ends, with its code. Pure.
import { constants } from "node:os";
import type { Service } from "../config/schema.ts";
import type { StoreState, Unit } from "../store/store.ts";
import { unitNames } from "./units.ts";

/** The exit code a unit that ended leaves: its own, 128+N after signal N (as shells and engines say), else 1. */
export function exitCodeOf(unit: Pick<Unit, "state" | "exit_code" | "last_error">): number {
  // Stopped on request (sv down): a clean end, whatever an earlier run of it left in exit_code.
  if (unit.state === "stopped") return 0;
  if (unit.exit_code !== null) return unit.exit_code;
  // endMessage (ending.ts) is the one writer of "… was killed by SIGNAL"; the store keeps no other trace of it.
  const signal = /\bwas killed by (SIG[A-Z0-9]+)\b/.exec(unit.last_error ?? "")?.[1];
  const n = signal === undefined ? undefined : constants.signals[signal as NodeJS.Signals];
  if (n !== undefined) return 128 + n;
  return unit.state === "completed" ? 0 : 1;
}

/**
 * Has this unit ended for good: completed, given up on (error, not retried later), or stopped because it
 * is wanted down (an `sv down` of it)? Restarting, starting and running units have not.
 */
export function hasEndedForGood(svc: Service, unit: Unit): boolean {
  if (unit.state === "completed") return true;
  if (unit.state === "error") return !(svc.retryAfterError && unit.gave_up_at !== null);
  return unit.state === "stopped" && unit.wanted === "down";
}

export interface EssentialEnd {
  unit: string;
  exitCode: number;
  why: string;
}

/** The first unit of an essential service among `services` that has ended for good, with its exit code. */
export function essentialEnd(services: Service[], state: StoreState): EssentialEnd | null {
  for (const svc of services) {
    if (!svc.essential) continue;
    for (const name of unitNames(svc, state)) {
      const unit = state.units[name];
      if (!unit || !hasEndedForGood(svc, unit)) continue;
      const code = exitCodeOf(unit);
      const how = unit.state === "completed" ? "completed" : unit.state === "stopped" ? "was stopped" : (unit.last_error ?? "failed");
      return { unit: name, exitCode: code, why: `${name} (essential) ${how.startsWith(name) ? how.slice(name.length + 1) : how}` };
    }
  }
  return null;
}
