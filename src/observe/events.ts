// The transition log, .sv/events.jsonl: append (under the store lock), read the tail, follow new lines.
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { STATES, type SvEvent } from "../engine/states.ts";
import type { Paths } from "../paths.ts";

/** Past this size the log is moved to events.jsonl.1 (one old file kept) before the next append. */
export const MAX_EVENTS_FILE_BYTES = 8 * 1024 * 1024;
/** How often followEvents looks for new lines. */
export const FOLLOW_POLL_MS = 100;
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface EventFilter {
  /** Service or unit names; `api` matches `api` and its instances `api.0` …, `api.0` matches only itself. */
  services?: string[];
}

/** Append events, one JSON line each, in one write. Called by the store under its lock. */
export function appendEvents(paths: Paths, events: SvEvent[], maxBytes = MAX_EVENTS_FILE_BYTES): void {
  if (events.length === 0) return;
  const file = paths.eventsFile;
  mkdirSync(dirname(file), { recursive: true });
  // Rotation is safe here: every writer holds the store lock, and followers notice the new inode.
  if (existsSync(file) && statSync(file).size >= maxBytes) renameSync(file, `${file}.1`);
  appendFileSync(file, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
}

/** The last `last` events (default all) matching the filter, oldest first; reads events.jsonl.1 too if needed. */
export function readEvents(paths: Paths, opts: EventFilter & { last?: number } = {}): SvEvent[] {
  return readTail([paths.eventsFile, `${paths.eventsFile}.1`], opts.last ?? Number.POSITIVE_INFINITY, matcher(opts.services));
}

/** The last `want` matching events of `files` (newest file first), oldest first. */
function readTail(files: string[], want: number, match: (e: SvEvent) => boolean): SvEvent[] {
  const parts: SvEvent[][] = [];
  let count = 0;
  for (const file of files) {
    if (count >= want) break;
    const fd = openIfExists(file);
    if (fd === null) continue;
    try {
      const { events } = tailEvents(fd, fstatSync(fd).size, want - count, match);
      parts.unshift(events);
      count += events.length;
    } finally {
      closeSync(fd);
    }
  }
  return parts.flat();
}

/**
 * The last `last` matching events (default none), then each new one as it is appended, until `signal`
 * aborts. Polls every `pollMs`; survives the file being created, rotated or truncated.
 */
export async function* followEvents(
  paths: Paths,
  opts: EventFilter & { last?: number; signal?: AbortSignal; pollMs?: number } = {},
): AsyncGenerator<SvEvent> {
  const match = matcher(opts.services);
  const file = paths.eventsFile;
  let fd = openIfExists(file);
  let offset = 0;
  try {
    const last = opts.last ?? 0;
    const tail = fd === null ? { events: [], end: 0 } : tailEvents(fd, fstatSync(fd).size, last, match);
    offset = tail.end;
    if (tail.events.length < last) yield* readTail([`${file}.1`], last - tail.events.length, match);
    yield* tail.events;

    let pending = Buffer.alloc(0);
    while (!opts.signal?.aborted) {
      if (fd === null) {
        fd = openIfExists(file);
        offset = 0;
        pending = Buffer.alloc(0);
      }
      if (fd !== null) {
        const size = fstatSync(fd).size;
        if (size < offset) [offset, pending] = [0, Buffer.alloc(0)]; // truncated
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          const n = readSync(fd, buf, 0, buf.length, offset);
          offset += n;
          const data = pending.length ? Buffer.concat([pending, buf.subarray(0, n)]) : buf.subarray(0, n);
          const cut = data.lastIndexOf(NEWLINE) + 1;
          pending = Buffer.from(data.subarray(cut));
          for (const e of parseLines(data.subarray(0, cut))) if (match(e)) yield e;
          continue; // look again at once: more may have arrived while we yielded
        }
        // Rotated (or removed): the old file is complete, and drained above; move to the new one.
        if (inodeOf(file) !== fstatSync(fd).ino) {
          closeSync(fd);
          fd = null;
          continue;
        }
      }
      await pause(opts.pollMs ?? FOLLOW_POLL_MS, opts.signal);
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Is this parsed JSON a well-formed event? (A torn or hand-edited line is skipped, not fatal.) */
function isEvent(x: unknown): x is SvEvent {
  const e = x as SvEvent;
  return (
    typeof e === "object" && e !== null && typeof e.ts === "string" && typeof e.service === "string" &&
    STATES.includes(e.from) && STATES.includes(e.to) && typeof e.reason === "string"
  );
}

function parseLines(data: Buffer): SvEvent[] {
  const out: SvEvent[] = [];
  for (const line of data.toString("utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line);
      if (isEvent(e)) out.push({ ...e, pid: typeof e.pid === "number" ? e.pid : null });
    } catch {}
  }
  return out;
}

function matcher(services: string[] | undefined): (e: SvEvent) => boolean {
  if (!services || services.length === 0) return () => true;
  const names = new Set(services);
  return (e) => {
    const dot = e.service.lastIndexOf(".");
    return names.has(e.service) || (dot !== -1 && names.has(e.service.slice(0, dot)));
  };
}

/**
 * Read `fd` backwards from `size` in chunks until `want` matching events are found. `end` is the offset
 * just past the last complete line: a line still being written is left for the follower.
 */
function tailEvents(fd: number, size: number, want: number, match: (e: SvEvent) => boolean): { events: SvEvent[]; end: number } {
  let pos = size;
  let carry = Buffer.alloc(0);
  let end = -1;
  const parts: SvEvent[][] = [];
  let count = 0;
  while (pos > 0 && (end === -1 || count < want)) {
    const len = Math.min(CHUNK_BYTES, pos);
    pos -= len;
    const chunk = Buffer.alloc(len);
    readSync(fd, chunk, 0, len, pos);
    let data = carry.length ? Buffer.concat([chunk, carry]) : chunk;
    if (end === -1) {
      // The bytes after the last newline are an incomplete line: not ours to read yet.
      const lastNl = data.lastIndexOf(NEWLINE);
      if (lastNl === -1 && pos > 0) {
        carry = data;
        continue;
      }
      end = pos + lastNl + 1;
      data = data.subarray(0, lastNl + 1);
    }
    // The first line of the chunk may have begun before `pos`: keep it for the next round.
    const firstNl = pos === 0 ? -1 : data.indexOf(NEWLINE);
    if (pos > 0 && firstNl === -1) {
      carry = data;
      continue;
    }
    carry = Buffer.from(data.subarray(0, firstNl + 1));
    const events = parseLines(data.subarray(firstNl + 1)).filter(match);
    const kept = events.slice(Math.max(0, events.length - (want - count)));
    parts.unshift(kept);
    count += kept.length;
  }
  return { events: parts.flat(), end: Math.max(end, 0) };
}

function openIfExists(file: string): number | null {
  try {
    return openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

function inodeOf(file: string): number | null {
  try {
    return statSync(file).ino;
  } catch {
    return null;
  }
}

/** Sleep `ms`, or less if `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return Bun.sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
