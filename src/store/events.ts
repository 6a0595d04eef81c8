// Appending to the transition log, .sv/events.jsonl: done by the store under its lock.
import { closeSync, existsSync, lstatSync, renameSync, writeSync } from "node:fs";
import type { Paths } from "../paths.ts";
import { openPrivate } from "../runtime/private-files.ts";
import type { SvEvent } from "./unit.ts";

/** Past this size the log is moved to events.jsonl.1 (one old file kept) before the next append. */
export const MAX_EVENTS_FILE_BYTES = 8 * 1024 * 1024;

/** Append events, one JSON line each, in one write. */
export function appendEvents(paths: Paths, events: SvEvent[], maxBytes = MAX_EVENTS_FILE_BYTES): void {
  if (events.length === 0) return;
  const file = paths.eventsFile;
  // The state dir was checked by withState, the only caller, just before. Rotation is safe here: every writer
  // holds the store lock, and followers notice the new inode. rename moves a link, never its target.
  if (existsSync(file) && lstatSync(file).size >= maxBytes) renameSync(file, `${file}.1`);
  const fd = openPrivate(file, "append", 0o600);
  try {
    writeSync(fd, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  } finally {
    closeSync(fd);
  }
}
