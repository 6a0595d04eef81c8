// A validated definition -> the Service the engine works with: defaults filled in, paths resolved, env files read.
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnvFile } from "./env-file.ts";
import type { Inputs } from "./inputs.ts";
import type { Env } from "./interpolate.ts";
import type { Problem, Seg } from "./problems.ts";
import type { ApiSettings, FailureAction, HealthCheck, RawService, RemoteSpec, Service, Settings } from "./schema.ts";
import { commandArgv } from "./command.ts";
import { type ContainerSpec, type PortMapping, type VolumeMount, parsePort, parseVolume } from "./container.ts";
import { toPackage } from "./package-service.ts";

/** Where a service is defined, for problems found while normalising it. */
export interface Origin {
  name: string;
  file: string;
  prefix: Seg[];
}

/** What normalising reads from: the environment (for ${VAR} in env files), and where reads and problems are recorded. */
export interface Scope {
  env: Env;
  inputs: Inputs;
  problems: Problem[];
}

/** The normalised Service of a validated definition. */
export function toService(root: string, origin: Origin, raw: RawService, scope: Scope): Service {
  const dependsOn: Service["dependsOn"] = {};
  if (Array.isArray(raw.depends_on)) for (const d of raw.depends_on) dependsOn[d] = undefined;
  else for (const [d, opts] of Object.entries(raw.depends_on)) dependsOn[d] = opts.condition;
  const container = toContainer(root, origin, raw, scope.problems);
  const remote = toRemote(root, origin, raw, scope.problems);
  const port = raw.port ?? container?.ports.find((p) => p.hostPort !== undefined)?.hostPort;
  if (container) container.containerPort = containerPortOf(container.ports, port);
  return {
    name: origin.name,
    file: origin.file,
    path: origin.prefix,
    description: raw.description ?? "",
    type: raw.type,
    command: raw.command ?? [],
    cwd: container ? (raw.cwd ?? "") : remote ? remoteCwd(raw, remote) : resolve(root, raw.cwd ?? "."),
    env: { ...readEnvFiles(root, origin, raw.env_file, scope), ...raw.env },
    user: raw.user,
    group: raw.group,
    instances: raw.instances,
    port,
    dependsOn,
    after: raw.after,
    before: raw.before,
    healthCheck: toHealthCheck(raw, port),
    restart: raw.restart ?? (raw.type === "oneshot" || raw.type === "multi-shot" ? "no" : "on-failure"),
    restartDelayMs: raw.restart_delay,
    restartMaxDelayMs: raw.restart_max_delay,
    maxRestarts: raw.max_restarts,
    retryAfterError: raw.retry_after_error,
    essential: raw.essential,
    startDelayMs: raw.start_delay,
    startTimeoutMs: raw.start_timeout,
    notifyDelayMs: raw.notify_delay,
    stopSignal: raw.stop_signal as NodeJS.Signals,
    stopTimeoutMs: raw.stop_timeout,
    limits: { memoryBytes: raw.limits.memory, nofile: raw.limits.nofile, nproc: raw.limits.nproc },
    log: { maxSizeBytes: raw.log.max_size, keep: raw.log.keep },
    onFailure: raw.on_failure.map((a): FailureAction => (a.webhook !== undefined ? { webhook: a.webhook } : { command: a.command! })),
    hooks: raw.hooks,
    ...(container ? { container } : {}),
    ...(remote ? { remote } : {}),
  };
}

const PACKAGE_ONLY = ["install_path", "keep_releases", "pre_install", "post_install"] as const;

/** Where a `host:` service runs, and the package it deploys (problems for package keys without their parts). */
function toRemote(root: string, origin: Origin, raw: RawService, problems: Problem[]): RemoteSpec | undefined {
  const at = (key: string, message: string) => problems.push({ file: origin.file, path: [...origin.prefix, key], message });
  if (raw.package === undefined) for (const key of PACKAGE_ONLY) if (raw[key] !== undefined) at(key, `only a package service has ${key}: (add package:, or remove it)`);
  if (raw.host === undefined) {
    if (raw.package !== undefined) at("package", "a package is deployed to a host: add host: (one of sv.yml's hosts:)");
    return undefined;
  }
  if (raw.image !== undefined) at("image", "a container runs on this machine's engine: remove host:, or run the image's command as a process there");
  const pkg = toPackage(root, origin.name, raw);
  return pkg ? { host: raw.host, package: pkg } : { host: raw.host };
}

/** A remote service runs in its cwd on the host (relative: under the host's dir); a package in its current release. */
function remoteCwd(raw: RawService, remote: RemoteSpec): string {
  if (remote.package) return `${remote.package.installPath}/current`;
  return raw.cwd ?? "";
}

const CONTAINER_ONLY = ["entrypoint", "ports", "volumes", "pull", "network_mode"] as const;

/** The container of an `image:` service (a problem for container keys without an image, or a process without a command). */
function toContainer(root: string, origin: Origin, raw: RawService, problems: Problem[]): ContainerSpec | undefined {
  const at = (key: string) => ({ file: origin.file, path: [...origin.prefix, key] });
  if (raw.image === undefined) {
    for (const key of CONTAINER_ONLY) if (raw[key] !== undefined) problems.push({ ...at(key), message: `only a container has ${key}: (add image:, or remove it${key === "ports" ? "; a process's port is port:" : ""})` });
    return undefined;
  }
  const ports = (raw.ports ?? []).map(parsePort).filter((p): p is PortMapping => typeof p !== "string");
  const volumes = (raw.volumes ?? []).map((v) => parseVolume(v, root)).filter((v): v is VolumeMount => typeof v !== "string");
  const networkMode = raw.network_mode ?? "project";
  if (networkMode === "host" && ports.length) problems.push({ ...at("ports"), message: "a container with network_mode: host publishes no ports (it uses the host's; say port: instead)" });
  if (raw.cwd !== undefined && !raw.cwd.startsWith("/")) problems.push({ ...at("cwd"), message: `a container's cwd is a path inside it and must be absolute (got "${raw.cwd}")` });
  return {
    image: raw.image,
    entrypoint: raw.entrypoint === undefined ? undefined : typeof raw.entrypoint === "string" ? ["/bin/sh", "-c", raw.entrypoint] : raw.entrypoint,
    command: raw.command === undefined ? undefined : commandArgv(raw.command),
    ports,
    volumes,
    pull: raw.pull ?? "missing",
    networkMode,
    workdir: raw.cwd,
  };
}

/** The container side of the mapping that publishes `port` (else the first mapping's; host networking: the port itself). */
function containerPortOf(ports: PortMapping[], port: number | undefined): number | undefined {
  return (ports.find((p) => p.hostPort !== undefined && p.hostPort === port) ?? ports[0])?.containerPort ?? port;
}

/** The health check as written, or the implied one: tcp on `port` when the service has one, else "process is alive". */
function toHealthCheck(raw: RawService, port: number | undefined): HealthCheck {
  const hc = raw.health_check;
  const type = hc?.type ?? (port !== undefined ? "tcp" : "process");
  return {
    type,
    host: (hc?.type === "tcp" ? hc.host : undefined) ?? "127.0.0.1",
    port: hc?.type === "tcp" ? (hc.port ?? port) : port,
    url: hc?.type === "http" ? hc.url : undefined,
    expectedStatus: hc?.type === "http" ? hc.expected_status : 200,
    command: hc?.type === "command" ? hc.command : undefined,
    expectedExitCode: hc?.type === "command" ? hc.expected_exit_code : 0,
    intervalMs: hc?.interval ?? 1000,
    timeoutMs: hc?.timeout ?? 2000,
    retries: hc?.retries ?? 3,
    startPeriodMs: hc?.start_period ?? 0,
  };
}

/** The variables of every env_file, later files winning; a missing or unreadable file is a problem. */
function readEnvFiles(root: string, origin: Origin, envFile: RawService["env_file"], { env, inputs, problems }: Scope): Record<string, string> {
  const vars: Record<string, string> = {};
  const files = envFile === undefined ? [] : Array.isArray(envFile) ? envFile : [envFile];
  files.forEach((f, i) => {
    const path = resolve(root, f);
    const at = { file: origin.file, path: [...origin.prefix, "env_file", ...(Array.isArray(envFile) ? [i] : [])] };
    if (!existsSync(path)) return problems.push({ ...at, message: `env file ${f} does not exist` });
    if (!statSync(path).isFile()) return problems.push({ ...at, message: `env file ${f} is not a file` });
    let text: string;
    try {
      text = inputs.readText(path);
    } catch (e) {
      return problems.push({ ...at, message: `cannot read env file ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    }
    const parsed = parseEnvFile(text, env);
    for (const p of parsed.problems) problems.push({ file: path, path: [], at: { line: p.line, col: p.col }, message: p.message });
    Object.assign(vars, parsed.vars);
  });
  return vars;
}

/** sv.yml `api:` with its paths resolved against the root. */
export function toApiSettings(root: string, api: Settings["api"], secretEnv: string[] = []): ApiSettings {
  return {
    listen: api.listen,
    tokens: api.tokens.map((t) => ({ token: t.token, tokenFile: t.token_file && resolve(root, t.token_file), role: t.role })),
    tls: api.tls && { certFile: resolve(root, api.tls.cert), keyFile: resolve(root, api.tls.key) },
    allowInsecure: api.allow_insecure,
    secretEnv,
  };
}
