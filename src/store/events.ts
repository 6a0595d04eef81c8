// Appending to the transition log, .sv/events.jsonl: done by the store under its lock.
import { appendFileSync, existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Paths } from "../paths.ts";
import type { SvEvent } from "./unit.ts";

/** Past this size the log is moved to events.jsonl.1 (one old file kept) before the next append. */
export const MAX_EVENTS_FILE_BYTES = 8 * 1024 * 1024;

/** Append events, one JSON line each, in one write. */
export function appendEvents(paths: Paths, events: SvEvent[], maxBytes = MAX_EVENTS_FILE_BYTES): void {
  if (events.length === 0) return;
  const file = paths.eventsFile;
  mkdirSync(dirname(file), { recursive: true });
  // Rotation is safe here: every writer holds the store lock, and followers notice the new inode.
  if (existsSync(file) && statSync(file).size >= maxBytes) renameSync(file, `${file}.1`);
  appendFileSync(file, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
}
