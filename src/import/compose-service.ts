// One compose service -> one sv container service.
import type { ImportContext } from "./context.ts";
import { composeHealthCheck, composePort, composeVolume } from "./compose-values.ts";
import { Draft, makeOneshot } from "./draft.ts";
import { formatMs, parseGoDuration } from "./durations.ts";
import type { NameMap } from "./names.ts";
import { signalName } from "./signals.ts";
import { splitWords } from "./shell-words.ts";
import { envEntries, isRecord, keyOf, scalarText } from "./values.ts";
import type { Seg } from "./yaml-source.ts";

export interface ComposeScope {
  ctx: ImportContext;
  names: NameMap;
  /** The compose project name (names the images build: produces). */
  project: string;
  /** Raw names of services waited for with service_completed_successfully. */
  completed: Set<string>;
  line(path: Seg[]): number;
  /** A string of the file in sv's ${VAR} syntax (problems reported at `path`). */
  text(value: string, path: Seg[], service: string): string;
}

/** Keys sv has no place for, and why. */
const WHY: Record<string, string> = {
  container_name: "sv names containers <project>-<unit>",
  hostname: "containers reach each other by service name on the project network",
  domainname: "not supported",
  networks: "sv puts every container on one project network, where it is reachable by its service name",
  links: "not needed: containers reach each other by service name on the project network",
  external_links: "not supported",
  expose: "not needed: containers on the project network reach each other's ports",
  labels: "sv labels its containers itself; other labels are not supported",
  annotations: "not supported",
  logging: "sv keeps each service's output in .sv/log/NAME.log (sv logs NAME)",
  cap_add: "not supported by sv's container backend",
  cap_drop: "not supported by sv's container backend",
  privileged: "not supported by sv's container backend",
  security_opt: "not supported by sv's container backend",
  devices: "not supported by sv's container backend",
  sysctls: "not supported by sv's container backend",
  ipc: "not supported by sv's container backend",
  pid: "not supported by sv's container backend",
  userns_mode: "not supported by sv's container backend",
  group_add: "not supported by sv's container backend",
  read_only: "not supported by sv's container backend",
  shm_size: "not supported by sv's container backend",
  tmpfs: "not supported: use a named volume",
  init: "not supported: sv init can be the image's entrypoint instead",
  tty: "sv runs services without a terminal",
  stdin_open: "sv runs services without a terminal",
  extra_hosts: "not supported (the host is reachable as host.sv.internal)",
  dns: "not supported",
  dns_search: "not supported",
  dns_opt: "not supported",
  mac_address: "not supported",
  platform: "not supported: sv runs the engine's default platform",
  runtime: "not supported",
  secrets: "sv has no secrets: mount the file with volumes:, or pass it in env_file:",
  configs: "sv has no configs: mount the file with volumes:",
  extends: "not followed: write the extended service's keys out",
  cpus: "sv limits memory and open files, not CPU",
  cpu_shares: "sv limits memory and open files, not CPU",
  cpu_quota: "sv limits memory and open files, not CPU",
  cpuset: "sv limits memory and open files, not CPU",
  mem_reservation: "sv has only a hard memory limit (limits.memory)",
  memswap_limit: "not supported",
  oom_score_adj: "not supported",
  develop: "compose watch has no sv equivalent",
  attach: "sv keeps every service's output in its log",
};

const PULL: Record<string, string> = { always: "always", never: "never", missing: "missing", if_not_present: "missing" };
const CONDITIONS: Record<string, string> = { service_started: "started", service_healthy: "healthy", service_completed_successfully: "completed" };

/** The sv draft of one compose service, or undefined when it cannot run at all (reported). */
export function mapComposeService(scope: ComposeScope, raw: string, def: unknown): Draft | undefined {
  const { ctx, line } = scope;
  const name = scope.names.get(raw)!;
  const at = (...path: Seg[]) => ["services", raw, ...path];
  const skip = (path: Seg[], why: string) => ctx.skip(line(at(...path)), keyOf(at(...path)), why, name);
  const text = (value: string, ...path: Seg[]) => scope.text(value, at(...path), name);
  if (!isRecord(def)) {
    skip([], "not a mapping: not imported");
    return undefined;
  }
  const draft = new Draft(name, { file: ctx.source.shown, line: line(at()), key: keyOf(at()) });
  const done = new Set<string>();
  const take = (key: string) => (done.add(key), def[key]);

  // What it runs: an image, or the image `docker compose build` tags for it.
  const image = take("image");
  const build = take("build");
  if (typeof image === "string") draft.set("image", text(image, "image"));
  if (build !== undefined) {
    if (typeof image === "string") skip(["build"], `sv does not build images: build it first (docker compose build ${raw}); sv runs ${image}`);
    else {
      draft.set("image", `${scope.project}-${raw}`);
      draft.set("pull", "never");
      skip(["build"], `sv does not build images: run \`docker compose build ${raw}\` first; sv runs the image it tags, ${scope.project}-${raw} (pull: never)`);
    }
  }
  if (draft.get("image") === undefined) {
    skip([], "has neither image: nor build:: not imported");
    return undefined;
  }
  for (const key of ["entrypoint", "command"] as const) {
    const value = take(key);
    if (value === undefined || value === null) continue;
    const argv = commandList(value, (why) => skip([key], why), (s, i) => text(s, key, ...(i === undefined ? [] : [i])));
    if (argv) draft.set(key, argv);
  }
  const workdir = take("working_dir");
  if (typeof workdir === "string") {
    if (workdir.startsWith("/")) draft.set("cwd", text(workdir, "working_dir"));
    else skip(["working_dir"], "a container's working directory must be absolute");
  }
  mapEnv(scope, draft, take, at, skip);
  const user = take("user");
  if (scalarText(user) !== undefined) {
    const [u, g] = text(scalarText(user)!, "user").split(":");
    draft.set("user", u);
    if (g) draft.set("group", g);
  }
  mapInstances(draft, take("scale"), isRecord(def.deploy) ? def.deploy.replicas : undefined, skip);
  mapPortsAndVolumes(scope, draft, take("ports"), take("volumes"), raw, skip);
  const pull = take("pull_policy");
  if (typeof pull === "string" && draft.get("pull") === undefined) {
    if (PULL[pull]) draft.set("pull", PULL[pull]);
    else skip(["pull_policy"], `"${pull}" has no sv form (pull: missing | always | never); sv pulls a missing image`);
  }
  const network = take("network_mode");
  if (typeof network === "string") {
    if (network === "host" || network === "none") draft.set("network_mode", network);
    else if (network !== "bridge") skip(["network_mode"], `"${network}" is not supported (network_mode: project | host | none)`);
  }
  const profiles = take("profiles");
  if (Array.isArray(profiles) && profiles.length > 0) {
    draft.set("type", "on-demand");
    skip(["profiles"], "sv has no profiles: the service is on-demand (started when named, or when a service that depends on it starts)");
  }
  mapDependsOn(scope, draft, take("depends_on"), skip);
  const hc = take("healthcheck");
  if (hc !== undefined) {
    const check = composeHealthCheck(hc, (why, ...path) => skip(["healthcheck", ...path], why), (s, ...path) => text(s, "healthcheck", ...path));
    if (check) draft.set("health_check", check);
  }
  mapRestart(draft, take("restart"), isRecord(def.deploy) ? def.deploy.restart_policy : undefined, skip);
  if (scope.completed.has(raw)) makeOneshot(draft, (why) => skip([], why));
  const signal = take("stop_signal");
  if (signal !== undefined) {
    const sig = signalName(signal);
    if (sig) draft.set("stop_signal", sig);
    else skip(["stop_signal"], `"${String(signal)}" is not a signal name`);
  }
  const grace = take("stop_grace_period");
  if (grace !== undefined) {
    const ms = parseGoDuration(String(grace));
    if (ms !== undefined) draft.set("stop_timeout", formatMs(ms));
    else skip(["stop_grace_period"], `"${String(grace)}" is not a duration`);
  }
  mapLimits(draft, take("mem_limit"), take("ulimits"), take("deploy"), skip);
  for (const key of Object.keys(def)) {
    if (done.has(key) || key.startsWith("x-")) continue;
    skip([key], WHY[key] || "not a compose key sv knows; not mapped");
  }
  return draft;
}

/** A compose command (a string is split into words, as compose does: no shell) as argv. */
function commandList(value: unknown, problem: (why: string) => void, text: (s: string, i?: number) => string): string[] | undefined {
  if (typeof value === "string") {
    const words = splitWords(text(value));
    if (!Array.isArray(words)) return problem(`cannot split into words (${words.error})`), undefined;
    return words.length ? words : undefined;
  }
  if (Array.isArray(value) && value.every((w) => scalarText(w) !== undefined)) return value.length ? value.map((w, i) => text(scalarText(w)!, i)) : undefined;
  problem("must be a string or a list of strings");
  return undefined;
}

type Take = (key: string) => unknown;
type Skip = (path: Seg[], why: string) => void;

/** environment: and env_file: (paths relative to the new root; a missing optional file is left out). */
function mapEnv(scope: ComposeScope, draft: Draft, take: Take, at: (...p: Seg[]) => Seg[], skip: Skip): void {
  const env: Record<string, unknown> = {};
  for (const [key, value, seg] of envEntries(take("environment"))) {
    if (value === null || value === undefined) env[key] = `\${${key}-}`; // named only: passed on from sv's environment
    else if (typeof value === "string") env[key] = scope.text(value, at("environment", seg), draft.name);
    else if (typeof value === "number" || typeof value === "boolean") env[key] = value;
    else skip(["environment", seg], "must be a string, number or boolean");
  }
  if (Object.keys(env).length) draft.set("env", env);
  const envFile = take("env_file");
  if (envFile === undefined || envFile === null) return;
  const files: string[] = [];
  (Array.isArray(envFile) ? envFile : [envFile]).forEach((entry, i) => {
    const seg: Seg[] = Array.isArray(envFile) ? ["env_file", i] : ["env_file"];
    const path = typeof entry === "string" ? entry : isRecord(entry) && typeof entry.path === "string" ? entry.path : undefined;
    if (path === undefined) return skip(seg, "must be a path, or { path: ..., required: ... }");
    const required = !(isRecord(entry) && entry.required === false);
    if (isRecord(entry) && entry.format !== undefined) skip([...seg, "format"], "sv reads env files as KEY=VALUE lines");
    if (!required && !scope.ctx.exists(path)) return skip(seg, `${path} does not exist and is optional (required: false): left out (sv requires every env_file to exist)`);
    if (!required) skip([...seg, "required"], "sv requires every env_file to exist");
    if (required && !scope.ctx.exists(path)) skip(seg, `${path} does not exist: sv validate fails until it does`);
    files.push(scope.ctx.path(path));
  });
  if (files.length) draft.set("env_file", files.length === 1 ? files[0] : files);
}

/** scale: or deploy.replicas -> instances. */
function mapInstances(draft: Draft, scale: unknown, replicas: unknown, skip: Skip): void {
  const n = replicas ?? scale;
  if (n === undefined) return;
  if (typeof n === "number" && Number.isInteger(n) && n >= 1) draft.set("instances", n);
  else if (n === 0) {
    draft.set("type", "on-demand");
    skip(replicas !== undefined ? ["deploy", "replicas"] : ["scale"], "0 instances: the service is on-demand instead");
  } else skip(replicas !== undefined ? ["deploy", "replicas"] : ["scale"], "must be a whole number");
}

function mapPortsAndVolumes(scope: ComposeScope, draft: Draft, ports: unknown, volumes: unknown, raw: string, skip: Skip): void {
  const at = (...path: Seg[]): Seg[] => ["services", raw, ...path];
  if (Array.isArray(ports)) {
    const out = ports.flatMap((p, i) => {
      const r = composePort(p, (s) => scope.text(s, at("ports", i), draft.name));
      if (typeof r === "object") return skip(["ports", i], r.why), [];
      return [r];
    });
    if (out.length) draft.set("ports", out);
  } else if (ports !== undefined) skip(["ports"], "must be a list");
  if (Array.isArray(volumes)) {
    const out = volumes.flatMap((v, i) => {
      const r = composeVolume(v, scope.ctx, (s) => scope.text(s, at("volumes", i), draft.name));
      if (typeof r === "object") return skip(["volumes", i], r.why), [];
      return [r];
    });
    if (out.length) draft.set("volumes", out);
  } else if (volumes !== undefined) skip(["volumes"], "must be a list");
}

/** depends_on: a list, or a mapping with conditions (required: false -> after:, ordering only). */
function mapDependsOn(scope: ComposeScope, draft: Draft, value: unknown, skip: Skip): void {
  if (value === undefined || value === null) return;
  const deps: [string, string | undefined][] = [];
  const after: string[] = [];
  const known = (dep: string, path: Seg[]) => {
    const name = scope.names.get(dep);
    if (!name) skip(path, `"${dep}" is not a service of this file: left out`);
    return name;
  };
  if (Array.isArray(value)) {
    value.forEach((dep, i) => {
      const name = typeof dep === "string" ? known(dep, ["depends_on", i]) : undefined;
      if (name) deps.push([name, undefined]);
    });
  } else if (isRecord(value)) {
    for (const [dep, opts] of Object.entries(value)) {
      const name = known(dep, ["depends_on", dep]);
      if (!name) continue;
      const o = isRecord(opts) ? opts : {};
      const condition = typeof o.condition === "string" ? CONDITIONS[o.condition] : undefined;
      if (o.condition !== undefined && !condition) skip(["depends_on", dep, "condition"], `"${String(o.condition)}" is not a compose condition; taken as started`);
      if (o.restart === true) skip(["depends_on", dep, "restart"], `sv does not restart ${draft.name} when ${name} restarts`);
      if (o.required === false) {
        after.push(name);
        skip(["depends_on", dep, "required"], `an optional dependency: after: ${name} (ordering only, never pulled in)${condition && condition !== "started" ? `; its condition ${condition} is not kept` : ""}`);
      } else deps.push([name, condition]);
    }
  } else return skip(["depends_on"], "must be a list or a mapping");
  if (deps.length) {
    const plain = deps.every(([, c]) => c === undefined || c === "started");
    draft.set("depends_on", plain ? deps.map(([n]) => n) : Object.fromEntries(deps.map(([n, c]) => [n, { condition: c ?? "started" }])));
  }
  if (after.length) draft.set("after", after);
}

/** restart: (no | always | on-failure[:N] | unless-stopped), or deploy.restart_policy; compose's default is "no". */
function mapRestart(draft: Draft, restart: unknown, policy: unknown, skip: Skip): void {
  if (isRecord(policy)) {
    const condition = policy.condition ?? "any";
    const map: Record<string, string> = { none: "no", "on-failure": "on-failure", any: "always" };
    if (typeof condition === "string" && map[condition]) draft.set("restart", map[condition]);
    else skip(["deploy", "restart_policy", "condition"], `"${String(condition)}" is not none, on-failure or any`);
    const delay = policy.delay === undefined ? undefined : parseGoDuration(String(policy.delay));
    if (delay !== undefined) {
      draft.set("restart_delay", formatMs(delay));
      draft.set("restart_max_delay", formatMs(delay)); // swarm waits the same delay every time
    } else if (policy.delay !== undefined) skip(["deploy", "restart_policy", "delay"], `"${String(policy.delay)}" is not a duration`);
    if (typeof policy.max_attempts === "number") draft.set("max_restarts", policy.max_attempts);
    if (policy.window !== undefined) skip(["deploy", "restart_policy", "window"], "sv counts consecutive failures, and resets the count when the service stays up a while");
    if (restart !== undefined) skip(["restart"], "deploy.restart_policy is used instead");
    return;
  }
  if (restart === undefined) return draft.set("restart", "no");
  const text = restart === false ? "no" : String(restart);
  const m = /^on-failure(?::(\d+))?$/.exec(text);
  if (text === "no" || text === "always") draft.set("restart", text);
  else if (text === "unless-stopped") draft.set("restart", "always");
  else if (m) {
    draft.set("restart", "on-failure");
    if (m[1] !== undefined) draft.set("max_restarts", Number(m[1]));
  } else skip(["restart"], `"${text}" is not no, always, on-failure[:N] or unless-stopped`);
}

/** mem_limit, ulimits (nofile, nproc) and deploy (resources, and what else it holds) -> limits. */
function mapLimits(draft: Draft, memLimit: unknown, ulimits: unknown, deploy: unknown, skip: Skip): void {
  const limits: Record<string, unknown> = {};
  const memory = (isRecord(deploy) && isRecord(deploy.resources) && isRecord(deploy.resources.limits) ? deploy.resources.limits.memory : undefined) ?? memLimit;
  if (memory !== undefined) limits.memory = String(memory).replace(/b$/i, "").toUpperCase();
  if (isRecord(ulimits)) {
    for (const [key, value] of Object.entries(ulimits)) {
      const soft = typeof value === "number" ? value : isRecord(value) ? value.soft : undefined;
      if ((key === "nofile" || key === "nproc") && typeof soft === "number") {
        limits[key] = soft;
        if (isRecord(value) && value.hard !== soft) skip(["ulimits", key, "hard"], "sv sets one limit (soft = hard): the soft one");
      } else skip(["ulimits", key], "sv limits nofile and nproc only");
    }
  }
  if (Object.keys(limits).length) draft.set("limits", limits);
  if (!isRecord(deploy)) return;
  for (const [key, value] of Object.entries(deploy)) {
    if (key === "replicas" || key === "restart_policy") continue;
    if (key === "resources" && isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k === "limits" && isRecord(v)) {
          for (const lk of Object.keys(v)) if (lk !== "memory") skip(["deploy", "resources", "limits", lk], "sv limits memory and open files, not CPU or pids");
        } else skip(["deploy", "resources", k], "sv has only limits (limits.memory)");
      }
      continue;
    }
    skip(["deploy", key], "swarm deployment settings have no sv equivalent");
  }
}
