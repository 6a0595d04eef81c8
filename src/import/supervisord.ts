// supervisord.conf -> sv: each [program:x] is a local process; its command is argv (supervisord runs no shell).
import { hostname } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { ImportContext, Imported } from "./context.ts";
import { Draft } from "./draft.ts";
import { fromSeconds } from "./durations.ts";
import { type IniSection, parseIni } from "./ini.ts";
import { NameMap } from "./names.ts";
import { evidentPort } from "./ports.ts";
import { signalName } from "./signals.ts";
import { readSource, type Source } from "./source.ts";
import { splitWords } from "./shell-words.ts";
import { type Expansions, expandValue, hasProcessNum, instanceCommand, parseEnvironment } from "./supervisord-values.ts";

/** At most this many files through [include]. */
const MAX_INCLUDED = 256;
/** Sections of supervisord itself and its control interfaces: nothing of a service. */
const QUIET_SECTIONS = /^(supervisord|unix_http_server|inet_http_server|supervisorctl|rpcinterface:.*|include)$/;

const PROGRAM_WHY: Record<string, string> = {
  umask: "not supported: set it in the command (sh -c 'umask 022; exec ...')",
  serverurl: "not supported",
  startsecs: "sv has no minimum uptime: a process is ready when its health check passes (or it is alive after a short grace period)",
  stdout_logfile: "sv keeps each service's output (stdout and stderr) in .sv/log/NAME.log",
  stderr_logfile: "sv keeps stdout and stderr together in .sv/log/NAME.log",
  stderr_logfile_maxbytes: "sv keeps stdout and stderr together: see stdout_logfile_maxbytes",
  stderr_logfile_backups: "sv keeps stdout and stderr together: see stdout_logfile_backups",
  stdout_capture_maxbytes: "sv has no capture mode",
  stderr_capture_maxbytes: "sv has no capture mode",
  stdout_events_enabled: "sv has no event listeners (see sv events)",
  stderr_events_enabled: "sv has no event listeners (see sv events)",
  stdout_syslog: "sv does not log to syslog",
  stderr_syslog: "sv does not log to syslog",
};
/** Keys that need nothing in sv: it always stops the whole process group, and keeps stdout and stderr in one log. */
const QUIET_KEYS = new Set(["stopasgroup", "killasgroup", "redirect_stderr"]);
const RESTART: Record<string, string> = { true: "always", false: "no", unexpected: "on-failure" };

interface Located {
  section: IniSection;
  source: Source;
}

/** The sections of a file, or a UsageError at the line that is no INI. */
function sectionsOf(source: Source): Located[] {
  const parsed = parseIni(source.text);
  if ("error" in parsed) throw new UsageError(`${source.shown}:${parsed.line}: not a supervisord config: ${parsed.error}`, "supervisord.conf is INI: [program:NAME] sections of key = value lines; check the format word");
  return parsed.sections.map((section) => ({ section, source }));
}

/** The main file's sections, then those of the files its [include] files= names (globs relative to it), in name order. */
function readAll(ctx: ImportContext): Located[] {
  const main = sectionsOf(ctx.source);
  const include = main.find((l) => l.section.name === "include")?.section.entries.get("files");
  if (!include) return main;
  const found: string[] = [];
  for (const pattern of include.value.split(/\s+/).filter(Boolean)) {
    const abs = isAbsolute(pattern) ? pattern : join(ctx.dir, pattern);
    const firstGlob = abs.search(/[*?[]/);
    if (firstGlob === -1) {
      found.push(abs);
      continue;
    }
    const base = dirname(abs.slice(0, firstGlob + 1));
    try {
      found.push(...[...new Bun.Glob(abs.slice(base.length + 1)).scanSync({ cwd: base, absolute: true, onlyFiles: true })].sort());
    } catch {
      ctx.skip(include.line, "include.files", `${pattern}: cannot list ${base}`);
    }
  }
  if (found.length > MAX_INCLUDED) throw new UsageError(`${ctx.source.shown}:${include.line}: [include] names ${found.length} files (at most ${MAX_INCLUDED})`, "narrow the files= globs");
  const included = found.flatMap((file) => {
    const more = sectionsOf(readSource(resolve(file), ctx.cwd, "supervisord config"));
    for (const l of more) if (l.section.name === "include") ctx.skip(l.section.line, "include", "supervisord reads [include] in the main file only", undefined, l.source);
    return more.filter((l) => l.section.name !== "include");
  });
  return [...main, ...included];
}

export function importSupervisord(ctx: ImportContext): Imported {
  const all = readAll(ctx);
  const programs = all.filter((l) => l.section.name.startsWith("program:"));
  if (programs.length === 0) throw new UsageError(`${ctx.source.shown} has no [program:NAME] sections`, "is it a supervisord config? check the format word and its [include] files=");
  const groups = new Map<string, string>();
  for (const { section, source } of all) {
    const name = section.name;
    if (name.startsWith("program:") || QUIET_SECTIONS.test(name)) continue;
    if (name.startsWith("group:")) {
      const members = section.entries.get("programs")?.value.split(",").map((p) => p.trim()).filter(Boolean) ?? [];
      for (const m of members) groups.set(m, name.slice(6));
      ctx.skip(section.line, `[${name}]`, `sv has no groups: its programs (${members.join(", ")}) are services of their own`, undefined, source);
    } else ctx.skip(section.line, `[${name}]`, name.startsWith("eventlistener:") ? "sv has no event listeners (see sv events)" : name.startsWith("fcgi-program:") ? "sv does not open sockets for FastCGI programs" : "not a supervisord section sv knows; not mapped", undefined, source);
  }
  const globalEnv = all.find((l) => l.section.name === "supervisord")?.section.entries.get("environment");
  const names = new NameMap();
  const drafts = programs.map(({ section, source }) => {
    const raw = section.name.slice("program:".length).trim();
    const { name, why } = names.add(raw);
    if (why) ctx.skip(section.line, `[${section.name}]`, why, name, source);
    const draft = new Draft(name, { file: source.shown, line: section.line, key: `[${section.name}]` });
    const priority = mapProgram(ctx, draft, section, source, { raw, group: groups.get(raw) ?? raw, globalEnv: globalEnv?.value });
    return { draft, priority };
  });
  orderByPriority(drafts);
  return { services: drafts.map((d) => d.draft) };
}

/** supervisord starts lower priorities first and stops them last: sv's after: says the same. */
function orderByPriority(drafts: { draft: Draft; priority: number }[]): void {
  if (new Set(drafts.map((d) => d.priority)).size < 2) return;
  for (const d of drafts) {
    const earlier = drafts.filter((o) => o.priority < d.priority).map((o) => o.draft.name);
    if (earlier.length) d.draft.set("after", earlier);
  }
}

/** One [program:x] onto its draft; returns its priority (default 999). */
function mapProgram(ctx: ImportContext, draft: Draft, section: IniSection, source: Source, p: { raw: string; group: string; globalEnv?: string }): number {
  const key = `program:${p.raw}`;
  const skip = (k: string, why: string) => ctx.skip(section.entries.get(k)?.line ?? section.line, `${key}.${k}`, why, draft.name, source);
  const get = (k: string) => section.entries.get(k)?.value;
  const numprocs = Number(get("numprocs") ?? 1);
  const x: Expansions = { here: dirname(source.path), program_name: p.raw, group_name: p.group, numprocs, host_node_name: hostname() };
  const expand = (k: string, value = get(k) ?? "") => {
    const out = expandValue(value, x, (why) => skip(k, why));
    if (value.includes("%(host_node_name)")) skip(k, `%(host_node_name)s is this machine's name at import (${x.host_node_name})`);
    return out;
  };
  const bool = (k: string) => {
    const v = get(k)?.toLowerCase();
    return v === undefined ? undefined : ["true", "yes", "on", "1"].includes(v) ? true : ["false", "no", "off", "0"].includes(v) ? false : undefined;
  };
  const command = get("command");
  if (!command) throw new UsageError(`${source.shown}:${section.line}: [${section.name}] has no command=`, "supervisord requires one for every program");
  const words = splitWords(command);
  if (!Array.isArray(words) || words.length === 0) throw new UsageError(`${source.shown}:${section.entries.get("command")!.line}: cannot split the command into words (${Array.isArray(words) ? "empty" : words.error})`, "fix its quotes");
  const start = Number(get("numprocs_start") ?? 0);
  const argv = words.map((w) => expand("command", w));
  draft.set("command", argv.some(hasProcessNum) ? instanceCommand(argv, start) : argv);
  const dir = get("directory");
  draft.set("cwd", dir !== undefined ? ctx.path(expand("directory", dir.replaceAll("%(here)s", ".")), dirname(source.path)) : ctx.sourceCwd());
  const env: Record<string, string> = {};
  for (const [k, text] of [["supervisord.environment", p.globalEnv], ["environment", get("environment")]] as const) {
    if (text === undefined) continue;
    const pairs = parseEnvironment(text);
    if (!pairs) skip(k === "environment" ? k : "environment", 'must be KEY="value",KEY2="value2": not mapped');
    for (const [name, value] of Object.entries(pairs ?? {})) env[name] = expand("environment", value);
  }
  if (numprocs > 1) draft.set("instances", numprocs);
  const port = evidentPort(argv, env);
  if (port !== undefined) {
    draft.set("port", port);
    delete env.PORT; // sv sets PORT itself (port + instance)
  }
  if (Object.keys(env).length) draft.set("env", env);
  if (get("user")) draft.set("user", expand("user"));
  if (bool("autostart") === false) draft.set("type", "on-demand");
  const autorestart = get("autorestart")?.toLowerCase();
  if (autorestart !== undefined) {
    if (RESTART[autorestart]) draft.set("restart", RESTART[autorestart]);
    else skip("autorestart", `"${autorestart}" is not true, false or unexpected`);
  }
  // A one-time task in supervisord's idiom: never restarted, and done at once. In sv, a simple service that ends is an error.
  if (autorestart === "false" && get("startsecs") === "0" && draft.get("type") !== "on-demand") {
    draft.set("type", "oneshot");
    skip("startsecs", "startsecs=0 with autorestart=false: a one-time task, so type oneshot (exit 0 is completed)");
  } else if (get("startsecs") !== undefined) skip("startsecs", PROGRAM_WHY.startsecs!);
  const retries = get("startretries");
  if (retries !== undefined) {
    if (/^\d+$/.test(retries)) draft.set("max_restarts", Number(retries));
    else skip("startretries", "must be a whole number");
  }
  const exitcodes = get("exitcodes");
  if (exitcodes !== undefined && exitcodes.replace(/\s/g, "") !== "0") skip("exitcodes", "sv takes only exit code 0 as expected (restart: on-failure restarts on any other)");
  const signal = get("stopsignal");
  if (signal !== undefined) {
    const sig = signalName(signal);
    if (sig) draft.set("stop_signal", sig);
    else skip("stopsignal", `${signal} is not a signal`);
  }
  const wait = get("stopwaitsecs");
  if (wait !== undefined) {
    const t = fromSeconds(wait);
    if (t) draft.set("stop_timeout", t);
    else skip("stopwaitsecs", "must be a number of seconds");
  }
  mapLog(draft, get("stdout_logfile_maxbytes"), get("stdout_logfile_backups"), skip);
  const process = get("process_name");
  if (process !== undefined && !(numprocs > 1 && process.includes("%(process_num)")) && process !== "%(program_name)s") skip("process_name", `sv names the service ${draft.name}${numprocs > 1 ? ` and its instances ${draft.name}.0, ${draft.name}.1 …` : ""}`);
  const handled = new Set(["command", "directory", "environment", "numprocs", "numprocs_start", "user", "autostart", "autorestart", "startsecs", "startretries", "exitcodes", "stopsignal", "stopwaitsecs", "stdout_logfile_maxbytes", "stdout_logfile_backups", "process_name", "priority"]);
  for (const k of section.entries.keys()) {
    if (handled.has(k) || QUIET_KEYS.has(k)) continue;
    if (k === "stdout_logfile" && ["AUTO", "NONE"].includes(get(k)!.toUpperCase())) continue;
    skip(k, PROGRAM_WHY[k] ?? "not a supervisord program key sv knows; not mapped");
  }
  const priority = Number(get("priority") ?? 999);
  return Number.isFinite(priority) ? priority : 999;
}

/** stdout_logfile_maxbytes and _backups -> log.max_size and log.keep (0 bytes, "never rotate", has no sv form). */
function mapLog(draft: Draft, maxBytes: string | undefined, backups: string | undefined, skip: (k: string, why: string) => void): void {
  const log: Record<string, unknown> = {};
  if (maxBytes !== undefined) {
    if (/^\s*0\s*$/.test(maxBytes)) skip("stdout_logfile_maxbytes", "sv always rotates logs: log.max_size is its default (10M)");
    else if (/^\s*\d+(\.\d+)?\s*([kmgt]i?b?|b)?\s*$/i.test(maxBytes)) log.max_size = maxBytes.trim().toUpperCase();
    else skip("stdout_logfile_maxbytes", "must be a size like 50MB");
  }
  if (backups !== undefined) {
    if (/^\d+$/.test(backups)) log.keep = Number(backups);
    else skip("stdout_logfile_backups", "must be a whole number");
  }
  if (Object.keys(log).length) draft.set("log", log);
}
