// process-compose -> sv: every process is a local process; its shell command stays a string (sv runs it with /bin/sh -c).
import { UsageError } from "../errors.ts";
import type { ImportContext, Imported } from "./context.ts";
import { fromInterpolated, literal } from "./dollars.ts";
import { Draft, makeOneshot } from "./draft.ts";
import { fromSeconds } from "./durations.ts";
import { NameMap } from "./names.ts";
import { evidentPort } from "./ports.ts";
import { pcProbe } from "./process-compose-probe.ts";
import { signalName } from "./signals.ts";
import { envEntries, isRecord, keyOf, scalarText } from "./values.ts";
import { type Seg, parseYaml } from "./yaml-source.ts";

const TOP_LEVEL_WHY: Record<string, string> = {
  log_location: "sv keeps each service's output in .sv/log/NAME.log",
  log_level: "not supported",
  log_length: "not supported",
  log_configuration: "sv keeps each service's output in .sv/log/NAME.log",
  shell: "sv runs a string command with /bin/sh -c",
  env_cmds: "not supported: set the variables in env: or an env_file",
  vars: "sv has no template variables: write the values out",
  ordered_shutdown: "sv always stops dependents first",
  extends: "not followed: import the extended file on its own",
};
/** Top-level keys that change nothing in sv (or that this importer reads). */
const TOP_LEVEL_QUIET = new Set(["version", "processes", "environment", "is_strict", "disable_env_expansion", "is_tui_disabled"]);

const PROCESS_WHY: Record<string, string> = {
  is_daemon: "sv supervises processes that stay in the foreground: run it without forking into the background",
  namespace: "sv has no namespaces",
  log_location: "sv keeps each service's output in .sv/log/NAME.log",
  log_configuration: "sv keeps each service's output in .sv/log/NAME.log",
  ready_log_line: "sv has no log-line readiness: give it a readiness_probe (health_check)",
  is_tty: "sv runs services without a terminal",
  is_interactive: "sv runs services without a terminal",
  is_foreground: "sv runs services in the background",
  is_elevated: "not supported: set user:",
  vars: "sv has no template variables: write the values out",
  launch_timeout_seconds: "applies to daemons, which sv does not supervise",
};

const CONDITIONS: Record<string, string> = {
  process_started: "started",
  process_healthy: "healthy",
  process_completed_successfully: "completed",
  process_completed: "completed",
  process_log_ready: "started",
};
const RESTART: Record<string, string> = { no: "no", always: "always", on_failure: "on-failure", exit_on_failure: "no" };

export function importProcessCompose(ctx: ImportContext): Imported {
  const y = parseYaml(ctx.source, "process-compose file");
  const top = y.value;
  if (!isRecord(top) || !isRecord(top.processes) || Object.keys(top.processes).length === 0) {
    throw new UsageError(`${ctx.source.shown} is not a process-compose file: it has no processes: mapping`, "check the format word: sv import compose|process-compose|procfile|supervisord FILE");
  }
  for (const key of Object.keys(top)) {
    if (!TOP_LEVEL_QUIET.has(key)) ctx.skip(y.lineOf([key]), key, TOP_LEVEL_WHY[key] ?? "not a process-compose key sv knows; not mapped");
  }
  // process-compose expands ${VAR} and $VAR when it loads the file, unless told not to: then the shell does.
  const expands = top.disable_env_expansion !== true;
  const text = (value: string, path: Seg[], service?: string) => (expands ? fromInterpolated(value, (why) => ctx.skip(y.lineOf(path), keyOf(path), why, service)) : literal(value));
  if (expands) ctx.noteDotenv("process-compose");
  const globalEnv = envOf(top.environment, ["environment"], text);
  const names = new NameMap();
  for (const raw of Object.keys(top.processes)) {
    const { why } = names.add(raw);
    if (why) ctx.skip(y.lineOf(["processes", raw]), `processes.${raw}`, why, names.get(raw));
  }
  const completed = new Set<string>();
  for (const def of Object.values(top.processes)) {
    if (!isRecord(def) || !isRecord(def.depends_on)) continue;
    for (const [dep, o] of Object.entries(def.depends_on)) if (isRecord(o) && /^process_completed/.test(String(o.condition))) completed.add(dep);
  }
  const services: Draft[] = [];
  for (const [raw, def] of Object.entries(top.processes)) {
    const name = names.get(raw)!;
    const at = (...path: Seg[]): Seg[] => ["processes", raw, ...path];
    const skip = (path: Seg[], why: string) => ctx.skip(y.lineOf(at(...path)), keyOf(at(...path)), why, name);
    if (!isRecord(def) || typeof def.command !== "string" || def.command.trim() === "") {
      skip([], "has no command: not imported");
      continue;
    }
    const draft = new Draft(name, { file: ctx.source.shown, line: y.lineOf(at()), key: keyOf(at()) });
    const str = (value: string, ...path: Seg[]) => runtimeVars(text(value, at(...path), name));
    mapProcess(ctx, draft, def, { str, skip, globalEnv, raw, names, completed });
    services.push(draft);
  }
  return { services };
}

interface Scope {
  str: (value: string, ...path: Seg[]) => string;
  skip: (path: Seg[], why: string) => void;
  globalEnv: Record<string, string>;
  raw: string;
  names: NameMap;
  completed: Set<string>;
}

/** One process's keys onto its draft. */
function mapProcess(ctx: ImportContext, draft: Draft, def: Record<string, unknown>, s: Scope): void {
  const { str, skip } = s;
  const done = new Set(["command"]);
  const take = (key: string) => (done.add(key), def[key]);
  if (typeof take("description") === "string") draft.set("description", def.description);
  if (def.disabled === true) draft.set("type", "on-demand");
  done.add("disabled");
  const command = str(def.command as string, "command");
  draft.set("command", command);
  const wd = take("working_dir");
  draft.set("cwd", typeof wd === "string" ? ctx.path(str(wd, "working_dir")) : ctx.sourceCwd());
  const env = { ...s.globalEnv, ...envOf(take("environment"), ["processes", s.raw, "environment"], (v, p) => str(v, ...p.slice(2))) };
  const replicas = take("replicas");
  if (typeof replicas === "number" && Number.isInteger(replicas) && replicas >= 1) {
    if (replicas > 1) draft.set("instances", replicas);
  } else if (replicas !== undefined) skip(["replicas"], "must be a whole number of at least 1");
  mapDependsOn(draft, take("depends_on"), s);
  const readiness = take("readiness_probe");
  const liveness = take("liveness_probe");
  const probe = readiness ?? liveness;
  const which = readiness !== undefined ? "readiness_probe" : "liveness_probe";
  const check = probe === undefined ? undefined : pcProbe(probe, (why, ...path) => skip([which, ...path], why), (v, ...path) => str(v, which, ...path));
  if (check) draft.set("health_check", check.health_check);
  if (readiness !== undefined && liveness !== undefined) skip(["liveness_probe"], "sv has one health check (readiness while starting, liveness after): the readiness_probe is used");
  const port = check?.port ?? evidentPort(command, env);
  if (port !== undefined) {
    draft.set("port", port);
    delete env.PORT; // sv sets PORT itself (port + instance)
  }
  if (Object.keys(env).length) draft.set("env", env);
  mapAvailability(draft, take("availability"), skip);
  if (s.completed.has(s.raw)) makeOneshot(draft, (why) => skip([], why));
  mapShutdown(draft, take("shutdown"), s);
  for (const key of Object.keys(def)) {
    if (done.has(key)) continue;
    skip([key], PROCESS_WHY[key] ?? "not a process-compose key sv knows; not mapped");
  }
}

/** process-compose's run-time variables in a command, as sv's (left for the shell): PC_REPLICA_NUM -> SV_INSTANCE, PC_PROC_NAME -> SV_SERVICE. */
function runtimeVars(text: string): string {
  return text.replace(/\$?\$\{PC_REPLICA_NUM\}|\$\$PC_REPLICA_NUM\b/g, "$$$${SV_INSTANCE}").replace(/\$?\$\{PC_PROC_NAME\}|\$\$PC_PROC_NAME\b/g, "$$$${SV_SERVICE}");
}

/** environment: (a list of KEY=VALUE, or a mapping) as env. */
function envOf(value: unknown, path: Seg[], text: (v: string, path: Seg[]) => string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, v, seg] of envEntries(value)) {
    const s = scalarText(v);
    if (s !== undefined) env[key] = text(s, [...path, seg]);
  }
  return env;
}

function mapDependsOn(draft: Draft, value: unknown, s: Scope): void {
  if (value === undefined) return;
  if (!isRecord(value)) return s.skip(["depends_on"], "must be a mapping of process -> { condition: ... }");
  const deps: Record<string, { condition: string }> = {};
  for (const [dep, opts] of Object.entries(value)) {
    const name = s.names.get(dep);
    if (!name) {
      s.skip(["depends_on", dep], `"${dep}" is not a process of this file: left out`);
      continue;
    }
    const raw = isRecord(opts) && typeof opts.condition === "string" ? opts.condition : "process_started";
    const condition = CONDITIONS[raw];
    if (!condition) s.skip(["depends_on", dep, "condition"], `"${raw}" is not a process-compose condition; taken as started`);
    if (raw === "process_completed") s.skip(["depends_on", dep, "condition"], `sv's completed means exit code 0 (process_completed took any exit)`);
    if (raw === "process_log_ready") s.skip(["depends_on", dep, "condition"], "sv has no log-line readiness: taken as started");
    deps[name] = { condition: condition ?? "started" };
  }
  if (Object.keys(deps).length === 0) return;
  const plain = Object.values(deps).every((d) => d.condition === "started");
  draft.set("depends_on", plain ? Object.keys(deps) : deps);
}

/** availability: restart, backoff_seconds (a fixed delay), max_restarts; process-compose's default is restart: no. */
function mapAvailability(draft: Draft, value: unknown, skip: Scope["skip"]): void {
  if (value === undefined) return draft.set("restart", "no");
  if (!isRecord(value)) return skip(["availability"], "must be a mapping");
  const restart = value.restart === undefined ? "no" : String(value.restart);
  if (RESTART[restart]) draft.set("restart", RESTART[restart]);
  else skip(["availability", "restart"], `"${restart}" is not no, always, on_failure or exit_on_failure`);
  if (restart === "exit_on_failure") skip(["availability", "restart"], "sv does not stop the project when one service fails: restart: no");
  const backoff = value.backoff_seconds === undefined ? undefined : fromSeconds(value.backoff_seconds);
  if (backoff !== undefined) {
    draft.set("restart_delay", backoff);
    draft.set("restart_max_delay", backoff); // process-compose waits the same time before every restart
  } else if (value.backoff_seconds !== undefined) skip(["availability", "backoff_seconds"], "must be a number of seconds");
  if (typeof value.max_restarts === "number") draft.set("max_restarts", value.max_restarts);
  for (const key of Object.keys(value)) {
    if (["restart", "backoff_seconds", "max_restarts"].includes(key)) continue;
    skip(["availability", key], key.startsWith("exit_on") ? "sv does not stop the project when one service ends" : "not supported");
  }
}

/** shutdown: signal (a number or name), timeout_seconds, command (sv runs it as a pre_stop hook). */
function mapShutdown(draft: Draft, value: unknown, s: Scope): void {
  if (value === undefined) return;
  if (!isRecord(value)) return s.skip(["shutdown"], "must be a mapping");
  for (const [key, v] of Object.entries(value)) {
    if (key === "signal") {
      const sig = signalName(v);
      if (sig) draft.set("stop_signal", sig);
      else s.skip(["shutdown", "signal"], `${String(v)} is not a signal`);
    } else if (key === "timeout_seconds") {
      const t = fromSeconds(v);
      if (t) draft.set("stop_timeout", t);
      else s.skip(["shutdown", "timeout_seconds"], "must be a number of seconds");
    } else if (key === "command" && typeof v === "string") {
      draft.set("hooks", { pre_stop: s.str(v, "shutdown", "command") });
      s.skip(["shutdown", "command"], "sv runs it as a pre_stop hook, then sends the stop signal (process-compose sent no signal)");
    } else if (key === "parent_only") {
      if (v === true) s.skip(["shutdown", "parent_only"], "sv signals the whole process group");
    } else s.skip(["shutdown", key], "not supported");
  }
}
