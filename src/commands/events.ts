import { defineCommand } from "citty";
import { resolveNames } from "../config/project.ts";
import type { Project } from "../config/schema.ts";
import { openContext } from "../engine/context.ts";
import type { SvEvent } from "../engine/states.ts";
import { serviceOf, unitNames } from "../engine/units.ts";
import { UsageError } from "../errors.ts";
import { followEvents, readEvents } from "../observe/events.ts";
import { readState } from "../store/store.ts";
import { watchReader } from "../runtime/reader-gone.ts";
import { output, paint, useColor, type Color } from "../output/style.ts";
import { onStopSignals } from "./_signals.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";

export const DEFAULT_EVENT_LINES = 50;
const STATE_COLORS: Record<string, Color> = { running: "green", completed: "blue", starting: "yellow", stopping: "yellow", error: "red", stopped: "gray" };
/** Wide enough for the longest transition, "completed -> starting". */
const TRANSITION_WIDTH = 21;

/** Local time as `2026-11-21 10:00:00.000`. */
export function formatTimestamp(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/**
 * One event as a line: `time  service  from -> to  reason  pid N`. A decision that changed no
 * state (from === to, e.g. a health change) shows the state alone: `api  running  unhealthy: …`.
 */
export function formatEvent(e: SvEvent, opts: { nameWidth?: number; color?: boolean } = {}): string {
  const color = opts.color ?? false;
  const change = e.from === e.to ? e.to : `${e.from} -> ${e.to}`;
  const padded = change.padEnd(TRANSITION_WIDTH);
  const painted = paint(padded.slice(0, change.length), STATE_COLORS[e.to] ?? "gray", color) + padded.slice(change.length);
  const pid = e.pid === null ? "" : `  pid ${e.pid}`;
  return `${paint(formatTimestamp(e.ts), "gray", color)}  ${e.service.padEnd(opts.nameWidth ?? 0)}  ${painted}  ${e.reason}${pid}`.trimEnd();
}

/** Names on the command line: services, or single units (`api.0`, or a past run `job.7`, which may be gone from the store). */
function resolveFilter(project: Project, names: string[]): string[] {
  return names.map((name) => (/\.\d+$/.test(name) && project.services.has(serviceOf(name)) ? name : resolveNames(project, [name])[0]!));
}

function parseLines(value: string | undefined): number {
  if (value === undefined) return DEFAULT_EVENT_LINES;
  if (value === "all") return Number.POSITIVE_INFINITY;
  if (!/^\d+$/.test(value)) throw new UsageError(`-n must be a number or "all", not "${value}"`, "e.g. sv events -n 200");
  return Number(value);
}

export default defineCommand({
  meta: {
    name: "events",
    description:
      "Print the state transition log (.sv/events.jsonl), oldest first. --json prints one document {\"events\":[…]}; with -f, one JSON object per line as events happen",
  },
  args: {
    ...rootArgs,
    ...namesArg,
    follow: { type: "boolean", alias: "f", description: "Keep printing new events as they happen (Ctrl-C to stop)" },
    lines: { type: "string", alias: "n", description: `How many of the latest events to print first, or "all" (default ${DEFAULT_EVENT_LINES})`, valueHint: "N" },
  },
  async run({ args }) {
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"] });
    const last = parseLines(args.lines);
    const services = resolveFilter(ctx.project, positionals(args));
    const color = useColor();
    const state = readState(ctx.paths);
    const nameWidth = Math.max(0, ...[...ctx.project.services.values()].flatMap((svc) => unitNames(svc, state)).map((n) => n.length));
    const print = (e: SvEvent) => console.log(output.json ? JSON.stringify(e) : formatEvent(e, { nameWidth, color }));

    if (!args.follow) {
      const events = readEvents(ctx.paths, { last, services });
      if (output.json) console.log(JSON.stringify({ events }));
      else if (!output.quiet && events.length > 0) console.log(events.map((e) => formatEvent(e, { nameWidth, color })).join("\n"));
      return;
    }
    // Follow until Ctrl-C (or SIGTERM), or until the reader of stdout is gone (`sv events -f | head -1`):
    // stop polling and return, so sv exits 0. Like `yes | head -1` seen from the shell: the pipeline got
    // what it asked for, so it is no error (GNU tail's exit 1 would fail `set -o pipefail` scripts for nothing).
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    const signals = onStopSignals(onSignal);
    const unwatch = watchReader(onSignal);
    try {
      for await (const e of followEvents(ctx.paths, { last, services, signal: stop.signal })) print(e);
    } finally {
      unwatch();
    }
    signals.finish();
  },
});
