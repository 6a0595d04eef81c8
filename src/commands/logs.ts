import { defineCommand } from "citty";
import { readdirSync } from "node:fs";
import { resolveNames } from "../config/project.ts";
import type { Project, Service } from "../config/schema.ts";
import { openContext } from "../engine/context.ts";
import { instanceOf, serviceOf, unitNames } from "../engine/units.ts";
import { UsageError } from "../errors.ts";
import { logger } from "../output/logger.ts";
import { output, paint, useColor, type Color } from "../output/style.ts";
import { logFile, type Paths } from "../paths.ts";
import { hasLog } from "../runtime/logs/files.ts";
import { watchReader } from "../runtime/reader-gone.ts";
import { followLog, streamFollower, type Follower } from "../runtime/logs/follow.ts";
import { readTail, tailLog } from "../runtime/logs/tail.ts";
import { onStopSignals } from "./_signals.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";

const DEFAULT_LINES = 100;
const POLL_MS = 100;
const PALETTE: Color[] = ["cyan", "yellow", "green", "magenta", "blue", "red"];

/** What was asked for: a service (all its units) or one unit (`api.1`, or a multi-shot run `job.3`). */
interface Pick {
  name: string;
  svc: Service;
  unit?: string;
}

/** The units of a service that may have a log: its instances, or every run of a multi-shot service that left one. */
function logUnits(paths: Paths, svc: Service): string[] {
  if (svc.type !== "multi-shot") return unitNames(svc);
  let files: string[] = [];
  try {
    files = readdirSync(paths.logDir);
  } catch {}
  const runs = new Set(files.map((f) => /^(.+\.\d+)\.log(?:\.\d+)?$/.exec(f)?.[1]).filter((u): u is string => u !== undefined && serviceOf(u) === svc.name));
  return [...runs].sort((a, b) => instanceOf(a) - instanceOf(b));
}

/** The names on the command line: services, or single units; anything else is a usage error with a did-you-mean. */
function pick(project: Project, names: string[]): Pick[] {
  return names.map((name) => {
    const whole = project.services.get(name);
    if (whole) return { name, svc: whole };
    const svc = project.services.get(serviceOf(name));
    if (svc && (svc.type === "multi-shot" ? /\.\d+$/.test(name) : unitNames(svc).includes(name))) return { name, svc, unit: name };
    resolveNames(project, [name]); // throws the usage error, with a did-you-mean
    throw new UsageError(`unknown service "${name}"`);
  });
}

/** `-n` as a count of lines: a whole number, 0 or more. */
function parseLines(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_LINES;
  if (!/^\d+$/.test(value)) throw new UsageError(`-n wants a number of lines, not "${value}"`, "e.g. `sv logs -n 50`; -n 0 prints none (with -f: only new lines)");
  return Number(value);
}

/** Turns a unit's line into what is printed: bare for a single log, else `name | line`, aligned, coloured per unit. */
function prefixer(units: string[], several: boolean, color: boolean): (unit: string, line: string) => string {
  if (output.json) return (unit, line) => JSON.stringify({ service: unit, line });
  if (!several) return (_unit, line) => line;
  let width = Math.max(0, ...units.map((u) => u.length));
  const prefixes = new Map<string, string>();
  return (unit, line) => {
    let prefix = prefixes.get(unit);
    if (prefix === undefined) {
      width = Math.max(width, unit.length);
      prefix = `${paint(`${unit.padEnd(width)} |`, PALETTE[prefixes.size % PALETTE.length]!, color)} `;
      prefixes.set(unit, prefix);
    }
    return prefix + line;
  };
}

/** Write to stdout, waiting for a slow reader; false once the reader has gone (EPIPE). */
async function write(text: string): Promise<boolean> {
  if (!text) return true;
  try {
    await Bun.write(Bun.stdout, text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Print new lines as they are written until SIGINT/SIGTERM or the reader goes away (EPIPE on a write, or
 * stdout polled as hung up every 200 ms, so a silent log is left too): exit 0 either way, as `sv events -f`
 * does, since the pipeline got what it asked for. `discover`
 * is asked on each pass for units that appeared since (new runs of a multi-shot service).
 */
async function follow(followers: Map<string, Follower>, discover: () => string[], open: (unit: string) => Follower, format: (unit: string, line: string) => string): Promise<void> {
  let stopped = false;
  let wake = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  const signals = onStopSignals(stop);
  const unwatch = watchReader(stop);
  try {
    while (!stopped) {
      for (const unit of discover()) if (!followers.has(unit)) followers.set(unit, open(unit));
      let text = "";
      for (const [unit, f] of followers) for (const line of f.poll()) text += `${format(unit, line)}\n`;
      if (!(await write(text))) break;
      if (!stopped) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, POLL_MS)));
    }
  } finally {
    unwatch();
    for (const f of followers.values()) f.close();
  }
  signals.finish();
}

export default defineCommand({
  meta: { name: "logs", description: "Print the last lines of service logs; -f follows them. Several services are merged with name prefixes" },
  args: {
    ...rootArgs,
    ...namesArg,
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines as they are written (Ctrl-C to stop)" },
    lines: { type: "string", alias: "n", description: `Lines to print from the end of each log (default ${DEFAULT_LINES}; 0: none)`, valueHint: "N" },
  },
  async run({ args }) {
    const lines = parseLines(args.lines);
    const ctx = await openContext({ root: args.root });
    const named = positionals(args);
    const picks: Pick[] = named.length ? pick(ctx.project, named) : [...ctx.project.services.values()].map((svc) => ({ name: svc.name, svc }));
    const unitsOf = (p: Pick) => (p.unit ? [p.unit] : logUnits(ctx.paths, p.svc));
    const units = () => [...new Set(picks.flatMap(unitsOf))];
    const path = (unit: string) => logFile(ctx.paths, unit);
    // A unit's log is a file (processes), or kept by its backend (a container's, by the engine).
    const kept = (unit: string) => {
      const logs = ctx.backends.for(ctx.project.services.get(serviceOf(unit))!).logs;
      return logs.file(unit) === null ? logs : null;
    };
    const present = new Map<string, boolean>();
    for (const u of units()) present.set(u, (await kept(u)?.exists(u)) ?? hasLog(path(u)));
    const has = (u: string) => present.get(u) === true;

    const withLog = units().filter(has);
    for (const p of named.length ? picks : []) {
      const missing = unitsOf(p).filter((u) => !has(u));
      if (missing.length === 0 && unitsOf(p).length > 0) continue;
      const who = missing.length === unitsOf(p).length ? `${p.name} has` : `${missing.join(", ")} ${missing.length === 1 ? "has" : "have"}`;
      logger.info(`${who} no log yet: never started${args.follow ? "; waiting for output" : ""}`);
    }
    if (!named.length && !withLog.length) logger.info(`no service has a log yet${args.follow ? "; waiting for output" : ""}`);

    if (!args.follow) {
      const format = prefixer(withLog, withLog.length > 1, useColor());
      const tails = await Promise.all(withLog.map(async (unit) => (await kept(unit)?.tail(unit, lines)) ?? tailLog(path(unit), lines)));
      const entries = withLog.flatMap((unit, i) => tails[i]!.map((line) => ({ service: unit, line })));
      if (output.json) await write(`${JSON.stringify({ lines: entries })}\n`);
      else await write(entries.map((e) => `${format(e.service, e.line)}\n`).join(""));
      return;
    }
    // Following, every chosen unit is watched, with a log or not: it may start later.
    const shown = units();
    const several = shown.length > 1 || picks.some((p) => p.svc.type === "multi-shot" && !p.unit);
    const format = prefixer(shown, several, useColor());
    const followers = new Map<string, Follower>();
    let text = "";
    for (const unit of shown) {
      const logs = kept(unit);
      if (logs?.follow) {
        followers.set(unit, streamFollower(logs.follow.bind(logs), unit, lines));
        continue;
      }
      const tail = readTail(path(unit), lines);
      for (const line of tail.lines) text += `${format(unit, line)}\n`;
      followers.set(unit, followLog(path(unit), tail));
    }
    const fresh = (unit: string) => followLog(path(unit), { offset: 0, ino: null, partial: Buffer.alloc(0) });
    if (await write(text)) await follow(followers, units, fresh, format);
  },
});
