// Signals as other tools write them (15, "TERM", "SIGTERM", "sigterm") as sv's names.
import { constants } from "node:os";

const BY_NUMBER = new Map(Object.entries(constants.signals).map(([name, n]) => [n as number, name]));

/** The signal's sv name ("SIGTERM"), or undefined when it is no signal of this system. */
export function signalName(value: unknown): string | undefined {
  if (typeof value === "number" || (typeof value === "string" && /^\s*\d+\s*$/.test(value))) return BY_NUMBER.get(Number(value));
  if (typeof value !== "string") return undefined;
  const upper = value.trim().toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return Object.hasOwn(constants.signals, name) ? name : undefined;
}
