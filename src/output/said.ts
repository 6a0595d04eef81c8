// What reconcile and watch passes say (engine Said), as sv prints it: a line of text on stdout, or with
// --log-format json a JSON record on stderr with the unit, its service and the transition.
import type { Said } from "../engine/reconcile.ts";
import { serviceOf } from "../engine/units.ts";
import { type LogFields, writeRecord } from "./logger.ts";

/** The JSON record of a Said: `event` is "transition" when it names states, `fallback` otherwise. */
export function writeSaid(s: Said, line: string, fallback: string): void {
  const fields: LogFields = { event: s.to !== undefined ? "transition" : fallback };
  if (s.unit !== undefined) Object.assign(fields, { service: serviceOf(s.unit), unit: s.unit });
  if (s.from !== undefined) fields.from = s.from;
  if (s.to !== undefined) fields.to = s.to;
  if (s.reason !== undefined) fields.reason = s.reason;
  writeRecord(s.level ?? "info", line, fields);
}
