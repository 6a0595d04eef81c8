// The transition log, .sv/events.jsonl: read the tail, follow new lines (the store appends: store/events.ts).
import { STATES, type SvEvent } from "../store/unit.ts";
import type { Paths } from "../paths.ts";
import { followLog } from "../runtime/logs/follow.ts";
import { readTail, type Tail } from "../runtime/logs/tail.ts";

/** How often followEvents looks for new lines. */
export const FOLLOW_POLL_MS = 100;

export interface EventFilter {
  /** Service or unit names; `api` matches `api` and its instances `api.0` …, `api.0` matches only itself. */
  services?: string[];
}

/** The last `last` events (default all) matching the filter, oldest first; reads events.jsonl.1 too if needed. */
export function readEvents(paths: Paths, opts: EventFilter & { last?: number } = {}): SvEvent[] {
  return tailMatching(paths.eventsFile, opts.last ?? Number.POSITIVE_INFINITY, matcher(opts.services)).events;
}

/**
 * The last `want` matching events, and where the log ended when they were read (to follow from there).
 * Reads the last lines from the end (runtime/logs/tail.ts); with a filter, widens until enough match.
 */
export function tailMatching(file: string, want: number, match: (e: SvEvent) => boolean): { events: SvEvent[]; tail: Tail } {
  if (want <= 0) return { events: [], tail: readTail(file, 0) };
  for (let n = Math.max(want, 64); ; n *= 4) {
    const tail = readTail(file, n);
    const events = parseLines(tail.lines).filter(match);
    if (events.length >= want || tail.lines.length < n) return { events: events.slice(Math.max(0, events.length - want)), tail };
  }
}

/**
 * The last `last` matching events (default none), then each new one as it is appended, until `signal`
 * aborts. Polls every `pollMs`; survives the file being created, rotated or truncated (followLog).
 */
export async function* followEvents(
  paths: Paths,
  opts: EventFilter & { last?: number; signal?: AbortSignal; pollMs?: number } = {},
): AsyncGenerator<SvEvent> {
  const match = matcher(opts.services);
  const { events, tail } = tailMatching(paths.eventsFile, opts.last ?? 0, match);
  yield* events;
  const follower = followLog(paths.eventsFile, tail);
  try {
    while (!opts.signal?.aborted) {
      const lines = follower.poll();
      for (const e of parseLines(lines)) if (match(e)) yield e;
      // Look again at once when something came: more may have arrived while we yielded.
      if (lines.length === 0) await pause(opts.pollMs ?? FOLLOW_POLL_MS, opts.signal);
    }
  } finally {
    follower.close();
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

export function parseLines(lines: string[]): SvEvent[] {
  const out: SvEvent[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line);
      if (isEvent(e)) out.push({ ...e, pid: typeof e.pid === "number" ? e.pid : null });
    } catch {}
  }
  return out;
}

export function matcher(services: string[] | undefined): (e: SvEvent) => boolean {
  if (!services || services.length === 0) return () => true;
  const names = new Set(services);
  return (e) => {
    const dot = e.service.lastIndexOf(".");
    return names.has(e.service) || (dot !== -1 && names.has(e.service.slice(0, dot)));
  };
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
