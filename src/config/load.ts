// What the user wrote -> a validated Project: find files -> parse -> includes -> interpolate -> validate.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, extname, isAbsolute, join, relative, resolve } from "node:path";
import * as v from "valibot";
import { ConfigError, didYouMean } from "../errors.ts";
import {
  NAME_PATTERN,
  type HealthCheck,
  type Project,
  type RawService,
  type Service,
  ServiceSchema,
  SettingsSchema,
  type Settings,
} from "./schema.ts";
import { validateProject } from "./validate.ts";

type Seg = string | number;

/** One problem, before it is given a line and column. */
export interface Problem {
  file: string;
  path: Seg[];
  message: string;
  atKey?: boolean;
}

/** A parsed source of one service definition. */
interface Source {
  file: string;
  text?: string;
  prefix: Seg[];
  name: string;
  data: unknown;
}

const NAME_HINT = "names match [a-z0-9][a-z0-9_-]{0,62}";

/** Load and validate every definition of the project at `root`; throws ConfigError listing every problem. */
export async function loadProject(root: string, env: Record<string, string | undefined> = process.env): Promise<Project> {
  const problems: Problem[] = [];
  const texts = new Map<string, string>();
  const parse = (file: string, text: string): unknown => {
    texts.set(file, text);
    try {
      return file.endsWith(".json") ? JSON.parse(text) : Bun.YAML.parse(text);
    } catch (e) {
      problems.push({ file, path: [], message: `syntax: ${(e as Error).message}` });
      return undefined;
    }
  };

  let settings: Settings = v.parse(SettingsSchema, {});
  const sources: Source[] = [];
  const settingsFile = join(root, "sv.yml");
  if (existsSync(settingsFile)) {
    const data = interpolate(parse(settingsFile, readFileSync(settingsFile, "utf8")) ?? {}, env, settingsFile, [], problems);
    const result = v.safeParse(SettingsSchema, data);
    if (result.success) {
      settings = result.output;
      for (const [key, def] of Object.entries(settings.services)) {
        sources.push({ file: settingsFile, prefix: ["services", key], name: key, data: def });
      }
    } else problems.push(...toProblems(settingsFile, [], result.issues));
  }

  const servicesDir = join(root, "services");
  if (existsSync(servicesDir)) {
    for (const entry of readdirSync(servicesDir).sort()) {
      if (!/\.ya?ml$/.test(entry)) continue;
      const file = join(servicesDir, entry);
      const data = parse(file, readFileSync(file, "utf8"));
      if (data !== undefined) sources.push({ file, prefix: [], name: basename(entry, extname(entry)), data });
    }
  }
  for (const [i, spec] of settings.include.entries()) {
    sources.push(...(await loadInclude(root, spec, settingsFile, i, parse, problems)));
  }

  const services = new Map<string, Service>();
  for (const src of sources) {
    const data = interpolate(src.data, env, src.file, src.prefix, problems);
    const result = v.safeParse(ServiceSchema, data ?? {});
    if (!result.success) {
      problems.push(...toProblems(src.file, src.prefix, result.issues));
      continue;
    }
    const name = result.output.name ?? src.name;
    if (!NAME_PATTERN.test(name)) {
      problems.push({ file: src.file, path: src.prefix, message: `service name "${name}" is invalid: ${NAME_HINT}` });
      continue;
    }
    const other = services.get(name);
    if (other) {
      problems.push({ file: src.file, path: [...src.prefix, "name"], message: `service "${name}" is already defined in ${relative(root, other.file)}` });
      continue;
    }
    services.set(name, toService(root, name, src.file, src.prefix, result.output, env, problems));
  }

  if (problems.length === 0) problems.push(...validateProject(services));
  if (problems.length > 0) throw new ConfigError(await formatProblems(root, problems, texts), "run `sv validate` to list every problem");
  return {
    root,
    stateDir: resolve(root, settings.state_dir),
    maxParallel: settings.max_parallel,
    defaultTimeoutMs: settings.default_timeout,
    services,
  };
}

/** Sources named by one `include:` entry: a file, a glob, or an http(s) URL (YAML or JSON). */
async function loadInclude(
  root: string,
  spec: string,
  settingsFile: string,
  index: number,
  parse: (file: string, text: string) => unknown,
  problems: Problem[],
): Promise<Source[]> {
  const where = { file: settingsFile, path: ["include", index] };
  const files: { file: string; text: string }[] = [];
  if (/^https?:\/\//.test(spec)) {
    try {
      const res = await fetch(spec, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      files.push({ file: spec, text: await res.text() });
    } catch (e) {
      problems.push({ ...where, message: `cannot fetch ${spec}: ${(e as Error).message}` });
    }
  } else {
    const matches = [...new Bun.Glob(spec).scanSync({ cwd: root, absolute: true })].sort();
    if (matches.length === 0) problems.push({ ...where, message: `${spec} matches no file` });
    for (const file of matches) files.push({ file, text: readFileSync(file, "utf8") });
  }
  const out: Source[] = [];
  for (const { file, text } of files) {
    const data = parse(file, text);
    if (data === undefined) continue;
    // A document with `services:` holds many definitions; otherwise it is one service named after the file.
    if (isRecord(data) && isRecord(data.services)) {
      for (const [key, def] of Object.entries(data.services)) out.push({ file, prefix: ["services", key], name: key, data: def });
    } else {
      out.push({ file, prefix: [], name: basename(file).replace(/\.(ya?ml|json)$/, ""), data });
    }
  }
  return out;
}

/** Expand ${VAR} and ${VAR:-default} in every string; `$$` is a literal `$`. */
function interpolate(value: unknown, env: Record<string, string | undefined>, file: string, path: Seg[], problems: Problem[]): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g, (match, name?: string, hasDefault?: string, fallback?: string) => {
      if (match === "$$") return "$";
      const set = env[name!];
      if (set !== undefined && (set !== "" || hasDefault === undefined)) return set;
      if (hasDefault !== undefined) return fallback ?? "";
      problems.push({ file, path, message: `\${${name}} is not set`, atKey: false });
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, file, [...path, i], problems));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, item]) => [k, interpolate(item, env, file, [...path, k], problems)]));
  }
  return value;
}

/** The normalised Service of a validated definition; reads env files. */
function toService(root: string, name: string, file: string, prefix: Seg[], raw: RawService, env: Record<string, string | undefined>, problems: Problem[]): Service {
  const fileEnv: Record<string, string> = {};
  const envFiles = raw.env_file === undefined ? [] : Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
  envFiles.forEach((f, i) => {
    const path = resolve(root, f);
    if (!existsSync(path)) {
      problems.push({ file, path: [...prefix, "env_file", ...(Array.isArray(raw.env_file) ? [i] : [])], message: `env file ${f} does not exist` });
    } else Object.assign(fileEnv, parseEnvFile(readFileSync(path, "utf8"), env));
  });
  const hc = raw.health_check;
  const healthCheck: HealthCheck = {
    type: hc?.type ?? (raw.port !== undefined ? "tcp" : "process"),
    host: (hc?.type === "tcp" ? hc.host : undefined) ?? "127.0.0.1",
    port: hc?.type === "tcp" ? (hc.port ?? raw.port) : raw.port,
    url: hc?.type === "http" ? hc.url : undefined,
    expectedStatus: hc?.type === "http" ? hc.expected_status : 200,
    command: hc?.type === "command" ? hc.command : undefined,
    expectedExitCode: hc?.type === "command" ? hc.expected_exit_code : 0,
    intervalMs: hc?.interval ?? 1000,
    timeoutMs: hc?.timeout ?? 2000,
    retries: hc?.retries ?? 3,
    startPeriodMs: hc?.start_period ?? 0,
  };
  const dependsOn: Service["dependsOn"] = {};
  if (Array.isArray(raw.depends_on)) for (const d of raw.depends_on) dependsOn[d] = undefined;
  else for (const [d, opts] of Object.entries(raw.depends_on)) dependsOn[d] = opts?.condition;
  return {
    name,
    file,
    path: prefix,
    description: raw.description ?? "",
    type: raw.type,
    command: raw.command,
    cwd: raw.cwd === undefined ? root : isAbsolute(raw.cwd) ? raw.cwd : resolve(root, raw.cwd),
    env: { ...fileEnv, ...raw.env },
    user: raw.user,
    group: raw.group,
    instances: raw.instances,
    port: raw.port,
    dependsOn,
    after: raw.after,
    before: raw.before,
    healthCheck,
    restart: raw.restart ?? (raw.type === "oneshot" ? "no" : "on-failure"),
    restartDelayMs: raw.restart_delay,
    restartMaxDelayMs: raw.restart_max_delay,
    maxRestarts: raw.max_restarts,
    retryAfterError: raw.retry_after_error,
    startDelayMs: raw.start_delay,
    notifyDelayMs: raw.notify_delay,
    stopSignal: raw.stop_signal as NodeJS.Signals,
    stopTimeoutMs: raw.stop_timeout,
    limits: { memoryBytes: raw.limits.memory, nofile: raw.limits.nofile, nproc: raw.limits.nproc },
    log: { maxSizeBytes: raw.log.max_size, keep: raw.log.keep },
    onFailure: raw.on_failure,
    hooks: raw.hooks,
  };
}

/** KEY=VALUE lines; `#` comments, optional `export`, single/double quotes; ${VAR} expanded in unquoted and double-quoted values. */
export function parseEnvFile(text: string, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"');
    } else value = value.replace(/\s+#.*$/, "");
    if (quote !== "'") value = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g, (_, n: string, _d, f?: string) => out[n] ?? env[n] ?? f ?? "");
    out[m[1]!] = value;
  }
  return out;
}

const NESTED_KEYS: Record<string, string[]> = {
  health_check: ["type", "host", "port", "url", "expected_status", "command", "expected_exit_code", "interval", "timeout", "retries", "start_period"],
  limits: ["memory", "nofile", "nproc"],
  log: ["max_size", "keep"],
  hooks: ["pre_start", "post_start", "pre_stop", "post_stop"],
  on_failure: ["webhook", "command"],
  depends_on: ["condition"],
};

/** valibot issues -> problems, with "did you mean" for unknown keys. */
function toProblems(file: string, prefix: Seg[], issues: v.BaseIssue<unknown>[]): Problem[] {
  const isSettings = prefix.length === 0 && file.endsWith("sv.yml");
  return issues.map((issue) => {
    const path: Seg[] = [...prefix, ...(issue.path ?? []).map((p) => p.key as Seg)];
    if (issue.type === "strict_object" && issue.expected === "never") {
      const key = String(path[path.length - 1]);
      const parent = (issue.path ?? []).map((p) => p.key).filter((k) => typeof k === "string");
      const known =
        isSettings && parent.length === 1
          ? Object.keys(SettingsSchema.entries)
          : (NESTED_KEYS[String(parent[parent.length - 2])] ?? Object.keys(ServiceSchema.entries));
      const guess = didYouMean(key, known);
      return { file, path, atKey: true, message: `unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : ""}` };
    }
    if (issue.kind === "schema" && issue.received === "undefined") {
      return { file, path, message: "is required" };
    }
    const message = issue.message.startsWith("Invalid type: ") ? `expected ${issue.expected}, got ${issue.received}` : issue.message;
    return { file, path, message };
  });
}

/** `file:line:col: path: message`, positions found by re-parsing the file with the yaml package. */
async function formatProblems(root: string, problems: Problem[], texts: Map<string, string>): Promise<string[]> {
  const { parseWithPositions } = await import("./positions.ts");
  const locators = new Map<string, Awaited<ReturnType<typeof parseWithPositions>>>();
  const out: string[] = [];
  for (const p of problems) {
    const name = /^https?:/.test(p.file) ? p.file : relative(root, p.file) || p.file;
    const text = texts.get(p.file);
    if (text === undefined || /\.json$/.test(p.file)) {
      out.push(`${name}: ${p.path.length ? `${p.path.join(".")}: ` : ""}${p.message}`);
      continue;
    }
    let loc = locators.get(p.file);
    if (!loc) locators.set(p.file, (loc = await parseWithPositions(text)));
    if (p.message.startsWith("syntax: ")) {
      for (const e of loc.errors.length ? loc.errors : [{ line: 1, col: 1, message: p.message.slice(8) }]) {
        out.push(`${name}:${e.line}:${e.col}: ${e.message}`);
      }
      continue;
    }
    const { line, col } = loc.locate(p.path, p.atKey);
    out.push(`${name}:${line}:${col}: ${p.path.length ? `${p.path.join(".")}: ` : ""}${p.message}`);
  }
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
