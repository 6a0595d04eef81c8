// sv export compose: one compose file. By default for `docker compose` (compose-spec: depends_on with
// conditions, restart:, profiles); with `swarm`, a stack file `docker stack deploy` reads (version 3.9:
// depends_on as a list, deploy.restart_policy, host-mode ports and dnsrr endpoints, which need no IPVS).
import { stringify } from "yaml";
import type { PortMapping } from "../config/container.ts";
import { commandArgv } from "../config/command.ts";
import type { Project, Service } from "../config/schema.ts";
import { addressVars, envName } from "../engine/units.ts";
import { unmappedCommon } from "./common-notes.ts";
import { containerTest, type Endpoint, endpointOf, isLoopback } from "./probes.ts";
import { type ExportResult, Notes, type ServiceReport } from "./report.ts";
import { dependencies, dependentsOf, goDuration, kindOf, ownVars, selectServices } from "./select.ts";
import { memoryText, placesOf, type Place } from "./places.ts";
import { waitForDependency } from "./waits.ts";

export interface ComposeOptions {
  /** The image process services run in, with the project bind-mounted at its own path. */
  image?: string;
  /** A stack file for `docker stack deploy` instead of a compose-spec file for `docker compose`. */
  swarm?: boolean;
}

const CONDITION = { started: "service_started", healthy: "service_healthy", completed: "service_completed_successfully" } as const;
const HOST_NET = "hostnet";

/** compose interpolates $VAR in every value: a literal $ is written $$. */
function escapeDollars(x: unknown): unknown {
  if (typeof x === "string") return x.replaceAll("$", () => "$$");
  if (Array.isArray(x)) return x.map(escapeDollars);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, escapeDollars(v)]));
  return x;
}

/** A health check from inside the container: a loopback check on a published host port goes to the container port. */
function insideEndpoint(svc: Service, e: Endpoint | undefined, ports: PortMapping[]): Endpoint | undefined {
  if (!e || !svc.container || svc.container.networkMode === "host") return e;
  const p = ports.find((m) => m.hostPort !== undefined && m.hostPort === e.port);
  return p && isLoopback(e.host) ? { ...e, port: p.containerPort } : e;
}

/** The compose file for the named services (default all) and their dependencies. */
export function exportCompose(project: Project, names: string[], opts: ComposeOptions = {}): ExportResult {
  const swarm = opts.swarm === true;
  const { order, pulledIn } = selectServices(project, names);
  const places = placesOf(project, order, opts.image);
  const services: Record<string, Record<string, unknown>> = {};
  const volumes: Record<string, Record<string, unknown>> = {};
  let usesHostNet = false;
  const reports: ServiceReport[] = [];

  for (const name of order) {
    const svc = project.services.get(name)!;
    const notes = new Notes(name, pulledIn.has(name));
    reports.push(notes.report);
    const place = places.get(name)!;
    if (place.skip) {
      notes.skip(place.skip.key, place.skip.why);
      continue;
    }
    const process = kindOf(svc) === "process";
    const c = svc.container;
    const base: Record<string, unknown> = { image: place.image };
    if (c?.entrypoint) base.entrypoint = c.entrypoint;
    const command = process ? commandArgv(svc.command) : c?.command;
    if (command) base.command = command;
    const workdir = process ? svc.cwd : c?.workdir;
    if (workdir) base.working_dir = workdir;
    if (svc.user) base.user = `${svc.user}${svc.group ? `:${svc.group}` : ""}`;
    else if (svc.group) notes.unmapped("group", "compose sets a group only with a user (user: USER:GROUP)");

    if (place.hostNetwork) {
      if (swarm) {
        base.networks = [HOST_NET];
        usesHostNet = true;
      } else base.network_mode = "host";
      if (process) notes.changed("command", `runs in ${place.image} on the host's network (as under sv: it listens on and reaches 127.0.0.1), with the project bind-mounted at ${project.root}`);
    } else if (c?.networkMode === "none") {
      if (swarm) notes.unmapped("network_mode", "a swarm service always has a network");
      else base.network_mode = "none";
    }

    const mounts: Record<string, unknown>[] = [];
    if (process) mounts.push({ type: "bind", source: project.root, target: project.root });
    for (const v of c?.volumes ?? []) {
      if (v.kind === "volume") volumes[v.source] = {};
      mounts.push({ type: v.kind, source: v.source, target: v.target, ...(v.readOnly ? { read_only: true } : {}) });
    }
    if (mounts.length) base.volumes = mounts;

    const hc = svc.healthCheck;
    if (hc.type !== "process") {
      const test = containerTest(hc, insideEndpoint(svc, endpointOf(hc), c?.ports ?? []));
      if (typeof test === "string") {
        // sv's start_timeout (how long a starting service may fail its check) is docker's start_period
        const startMs = Math.max(hc.startPeriodMs, svc.startTimeoutMs ?? project.defaultTimeoutMs);
        base.healthcheck = { test: ["CMD-SHELL", test], interval: goDuration(hc.intervalMs), timeout: goDuration(hc.timeoutMs), retries: hc.retries, start_period: goDuration(startMs) };
        if (hc.type !== "command") notes.changed("health_check", `runs inside the container with ${hc.type === "tcp" ? "nc" : hc.expectedStatus === 200 ? "wget or curl" : "curl"}: the image must have it`);
      } else notes.unmapped("health_check", test.why);
    }

    base.stop_signal = svc.stopSignal;
    base.stop_grace_period = goDuration(svc.stopTimeoutMs);
    const deploy: Record<string, unknown> = {};
    if (swarm) {
      deploy.restart_policy = { condition: svc.restart === "no" ? "none" : svc.restart === "always" ? "any" : "on-failure", ...(svc.restart !== "no" ? { delay: goDuration(svc.restartDelayMs) } : {}), ...(svc.restart !== "no" && svc.maxRestarts > 0 ? { max_attempts: svc.maxRestarts } : {}) };
      if (svc.restart !== "no") notes.changed("restart_delay", `swarm waits a fixed ${goDuration(svc.restartDelayMs)} between restarts (no doubling up to restart_max_delay)`);
      if (!place.hostNetwork) deploy.endpoint_mode = "dnsrr";
    } else {
      base.restart = svc.restart === "on-failure" && svc.maxRestarts > 0 ? `on-failure:${svc.maxRestarts}` : svc.restart;
      if (svc.restart !== "no") notes.changed("restart_delay", "docker's own backoff applies (from 100ms, doubling); restart_delay and restart_max_delay are not settable");
      if (svc.restart === "always" && svc.maxRestarts > 0) notes.unmapped("max_restarts", "docker limits restarts only with on-failure");
    }
    if (svc.limits.memoryBytes) deploy.resources = { limits: { memory: memoryText(svc.limits.memoryBytes) } };
    const ulimits: Record<string, unknown> = {};
    if (svc.limits.nofile) ulimits.nofile = { soft: svc.limits.nofile, hard: svc.limits.nofile };
    if (svc.limits.nproc) ulimits.nproc = svc.limits.nproc;
    if (Object.keys(ulimits).length) base.ulimits = ulimits;
    base.logging = { driver: "json-file", options: { "max-size": memoryText(svc.log.maxSizeBytes), "max-file": String(svc.log.keep + 1) } };

    const dependents = dependentsOf(project, order, name);
    if (svc.type === "on-demand" || svc.type === "multi-shot") {
      if (dependents.length && svc.type === "on-demand") notes.changed("type", `on-demand: started with ${dependents.join(", ")}, which depend on it`);
      else if (swarm) {
        deploy.replicas = 0;
        notes.changed("type", `${svc.type}: deployed with 0 replicas; \`docker service scale ${project.name}_${name}=1\` starts it`);
      } else {
        base.profiles = [svc.type];
        notes.changed("type", svc.type === "multi-shot" ? `multi-shot: in profile multi-shot; each \`docker compose run --rm ${name}\` is one run` : `on-demand: in profile on-demand; \`docker compose up ${name}\` starts it`);
      }
    }
    for (const key of ["pre_start", "post_start", "pre_stop", "post_stop"] as const) if (svc.hooks[key]) notes.unmapped(`hooks.${key}`, "compose runs no hooks around a container's start and stop");
    unmappedCommon(svc, notes, "compose");

    // instances: replicas, or one service per instance where each serves its own host port
    const perInstance = place.instanceNames.length > 1;
    if (!perInstance && svc.instances > 1) {
      deploy.replicas = svc.instances;
      notes.changed("instances", "replicas are alike: SV_INSTANCE is 0 in every one");
    }
    if (perInstance) notes.changed("instances", `one service per instance (${place.instanceNames.join(", ")}): each serves its own port`);
    place.instanceNames.forEach((unit, i) => {
      const s: Record<string, unknown> = { ...base };
      const env: Record<string, string> = { ...svc.env, ...ownVars(svc, i) };
      for (const d of dependencies(project, svc)) {
        const at = reach(project, places, name, d.name, swarm, notes);
        if (at) Object.assign(env, addressVars(d.name, at.host, at.port));
        if (at?.extraHost && !swarm) s.extra_hosts = ["host.sv.internal:host-gateway"];
      }
      s.environment = env;
      if (swarm && i === 0) swarmWaits(project, places, svc, base, notes);
      if (swarm) Object.assign(s, { entrypoint: base.entrypoint, command: base.command });
      if (c && c.ports.length) {
        const published = c.ports.filter((p) => p.hostPort !== undefined);
        const exposed = c.ports.filter((p) => p.hostPort === undefined).map((p) => `${p.containerPort}/${p.protocol}`);
        if (published.length) s.ports = published.map((p) => portEntry(p, perInstance ? i : 0, swarm, notes));
        if (exposed.length) s.expose = exposed;
      }
      const dependsOn = dependsOnOf(project, places, svc, swarm, notes);
      if (dependsOn) s.depends_on = dependsOn;
      if (Object.keys(deploy).length) s.deploy = deploy;
      services[unit] = s;
      notes.as(unit);
    });
  }

  // no top-level name: the compose-spec schema the file is checked against predates it (docker compose -p sets it)
  const doc: Record<string, unknown> = swarm ? { version: "3.9" } : {};
  doc.services = services;
  if (Object.keys(volumes).length) doc.volumes = volumes;
  if (usesHostNet) doc.networks = { [HOST_NET]: { external: true, name: "host" } };
  const header = `# ${swarm ? `docker stack deploy -c FILE ${project.name}` : `docker compose -p ${project.name} -f FILE up`}: written by sv export compose${swarm ? " --swarm" : ""} from ${project.root}\n`;
  const text = header + stringify(escapeDollars(doc), { lineWidth: 0, aliasDuplicateObjects: false });
  return { target: "compose", files: [{ name: swarm ? "stack.yaml" : "compose.yaml", text }], services: reports };
}

/**
 * docker stack deploy ignores depends_on: swarm starts every service at once. Where sv knows the whole
 * command (a process service, or an image service with an entrypoint), it first waits, in the container,
 * until each dependency that must be healthy passes its check; what cannot wait is said.
 */
function swarmWaits(project: Project, places: Map<string, Place>, svc: Service, base: Record<string, unknown>, notes: Notes): void {
  const waits: string[] = [];
  for (const d of dependencies(project, svc)) {
    const dp = places.get(d.name)!;
    if (dp.skip) continue;
    const dep = project.services.get(d.name)!;
    const ignored = "docker stack deploy ignores depends_on";
    if (d.condition === "completed") {
      notes.changed(`depends_on.${d.name}`, `${ignored}, and nothing in a swarm can wait for ${d.name} to complete: the restart policy retries until it has`);
      continue;
    }
    if (d.condition === "started") {
      notes.changed(`depends_on.${d.name}`, `${ignored}: swarm starts both at once`);
      continue;
    }
    const at = reach(project, places, svc.name, d.name, true, notes);
    const loop = waitForDependency(dep, at, notes);
    if (!loop) continue;
    if (!svc.container || svc.container.entrypoint) {
      waits.push(loop);
      notes.changed(`depends_on.${d.name}`, `${ignored}: the command first waits, in the container, until ${d.name} passes its check`);
    } else notes.changed(`depends_on.${d.name}`, `${ignored}, and the image's entrypoint is not known (set entrypoint: to let sv wrap it): swarm starts it at once and its restart policy retries`);
  }
  if (!waits.length) return;
  const script = `${waits.join("; ")}; exec "$@"`;
  if (svc.container) base.entrypoint = ["/bin/sh", "-c", script, "sh", ...(base.entrypoint as string[])];
  else base.command = ["/bin/sh", "-c", script, "sh", ...(base.command as string[])];
}

/** A published port in compose's long syntax; swarm publishes in host mode (no routing mesh) on every address. */
function portEntry(p: PortMapping, offset: number, swarm: boolean, notes: Notes): Record<string, unknown> {
  const published = p.hostPort! + offset;
  if (swarm) {
    if (p.hostIp && p.hostIp !== "0.0.0.0") notes.changed("ports", `${p.hostIp}:${published}: a swarm port is published on every address of the node (no host IP)`);
    return { target: p.containerPort, published, protocol: p.protocol, mode: "host" };
  }
  return { target: p.containerPort, published, ...(p.hostIp ? { host_ip: p.hostIp } : {}), protocol: p.protocol };
}

/** Where dependent `from` reaches dependency `dep` (its DEP_HOST and DEP_PORT), or undefined with a note why not. */
function reach(project: Project, places: Map<string, Place>, from: string, dep: string, swarm: boolean, notes: Notes): { host: string; port: number; extraHost?: boolean } | undefined {
  const d = project.services.get(dep)!;
  const dp = places.get(dep)!;
  if (d.port === undefined || dp.skip) return undefined;
  const fp = places.get(from)!;
  const first = dp.instanceNames[0]!;
  if (fp.hostNetwork && dp.hostNetwork) return { host: "127.0.0.1", port: d.port };
  if (fp.hostNetwork) {
    // the dependency's port as published on the host (sv's port of a container is its first published host port)
    if (d.container?.ports.some((p) => p.hostPort === d.port)) return { host: "127.0.0.1", port: d.port };
    notes.unmapped(`depends_on.${dep}`, `${dep} publishes no port on the host, so the host network cannot reach it: ${envName(dep)}_HOST is not set`);
    return undefined;
  }
  if (!dp.hostNetwork) return { host: first, port: d.container?.containerPort ?? d.port };
  if (swarm) {
    notes.unmapped(`depends_on.${dep}`, `${dep} runs on the host's network, which a swarm task on the stack's network cannot name: ${envName(dep)}_HOST is not set`);
    return undefined;
  }
  notes.changed(`depends_on.${dep}`, `reaches ${dep} on the host as host.sv.internal:${d.port}: ${dep} must listen on an address containers reach, not only 127.0.0.1`);
  return { host: "host.sv.internal", port: d.port, extraHost: true };
}

/** depends_on: conditions for docker compose; a plain list for swarm, which ignores it (said per dependency). */
function dependsOnOf(project: Project, places: Map<string, Place>, svc: Service, swarm: boolean, notes: Notes): unknown {
  const mapping: Record<string, { condition: string }> = {};
  const list: string[] = [];
  for (const d of dependencies(project, svc)) {
    const dp = places.get(d.name)!;
    if (dp.skip) {
      notes.unmapped(`depends_on.${d.name}`, `${d.name} is not exported (${dp.skip.why.split(":")[0]}): nothing waits for it`);
      continue;
    }
    const dep = project.services.get(d.name)!;
    let condition: string = CONDITION[d.condition];
    if (d.condition === "healthy" && dep.healthCheck.type === "process") condition = CONDITION.started;
    if (d.condition === "completed" && dep.type !== "oneshot") notes.changed(`depends_on.${d.name}`, `condition completed: waits for ${d.name} to exit 0`);
    for (const unit of dp.instanceNames) {
      mapping[unit] = { condition };
      list.push(unit);
    }
  }
  if (list.length === 0) return undefined;
  return swarm ? list : mapping;
}
