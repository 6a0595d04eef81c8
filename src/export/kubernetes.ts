// sv export kubernetes: manifests for the services. Long-running services become Deployments (restart:
// always) or Pods with the restartPolicy sv's restart: names (a Deployment can only restart always); each
// port a Service; depends_on initContainers that wait for the dependency's check, and a oneshot dependency
// runs as an initContainer of its dependents, so they start only once it has completed.
import { stringify } from "yaml";
import { commandArgv } from "../config/command.ts";
import type { Project, Service } from "../config/schema.ts";
import { addressVars } from "../engine/units.ts";
import { accountEntry } from "../runtime/accounts.ts";
import { unmappedCommon } from "./common-notes.ts";
import { memoryText, placesOf, type Place } from "./places.ts";
import { endpointOf, isLoopback } from "./probes.ts";
import { waitForDependency } from "./waits.ts";
import { type ExportResult, Notes, type OutFile, type ServiceReport } from "./report.ts";
import { dependencies, dependentsOf, kindOf, ownVars, selectServices } from "./select.ts";

export interface KubernetesOptions {
  /** The image process services run in, with the project mounted from the node (hostPath) at its own path. */
  image?: string;
  /** The image of the initContainers that wait for dependencies: needs sh, sleep, timeout, nc and wget. */
  waitImage?: string;
}

export const DEFAULT_WAIT_IMAGE = "busybox:1.36";

type Obj = Record<string, unknown>;

/** A Kubernetes object name (DNS-1123 label) for an sv name: `_` is not allowed there. */
const k8sName = (name: string) => name.replaceAll("_", "-").replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "") || "sv";

const secondsOf = (ms: number, min = 1) => Math.max(min, Math.ceil(ms / 1000));

/** One service as the containers of a pod: init containers (waits, oneshot dependencies, pre_start), the main one, volumes. */
interface PodParts {
  initContainers: Obj[];
  volumes: Map<string, Obj>;
}

export function exportKubernetes(project: Project, names: string[], opts: KubernetesOptions = {}): ExportResult {
  const { order, pulledIn } = selectServices(project, names);
  const places = placesOf(project, order, opts.image);
  const waitImage = opts.waitImage ?? DEFAULT_WAIT_IMAGE;
  const reports: ServiceReport[] = [];
  const files: OutFile[] = [];
  const claims = new Map<string, Obj>();
  const notesOf = new Map<string, Notes>();
  for (const name of order) {
    const n = new Notes(name, pulledIn.has(name));
    notesOf.set(name, n);
    reports.push(n.report);
  }
  const ctx: Ctx = { project, places, waitImage, claims, notesOf };

  for (const name of order) {
    const svc = project.services.get(name)!;
    const notes = notesOf.get(name)!;
    const place = places.get(name)!;
    if (place.skip) {
      notes.skip(place.skip.key, place.skip.why);
      continue;
    }
    const docs: Obj[] = [];
    const dependents = dependentsOf(project, order, name).filter((d) => !places.get(d)!.skip);
    if (svc.type === "oneshot" && dependents.length) {
      notes.changed("type", `oneshot: runs as an initContainer of ${dependents.join(", ")}, so ${dependents.length === 1 ? "it starts" : "they start"} only once it has completed${dependents.length > 1 ? " (once in each: make it idempotent)" : ""}`);
      for (const d of dependents) notes.as(`initContainer ${k8sName(name)} of ${k8sName(d)}`);
    }
    if (svc.type !== "oneshot" || !dependents.length) {
      place.instanceNames.forEach((unit, i) => docs.push(...workload(ctx, svc, place, unit, i, dependents.length > 0)));
      if (svc.port !== undefined && svc.type !== "oneshot" && svc.type !== "multi-shot") place.instanceNames.forEach((unit, i) => docs.push(serviceObject(project, svc, unit, i)));
    }
    annotateOnce(svc, notes);
    unmappedCommon(svc, notes, "kubernetes");
    for (const d of docs) notes.as(`${d.kind}/${(d.metadata as Obj).name}`);
    if (docs.length) files.push({ name: `${k8sName(name)}.yaml`, text: docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n") });
  }
  if (claims.size) files.push({ name: "volumes.yaml", text: [...claims.values()].map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n") });
  return { target: "kubernetes", files, services: reports };
}

interface Ctx {
  project: Project;
  places: Map<string, Place>;
  waitImage: string;
  claims: Map<string, Obj>;
  notesOf: Map<string, Notes>;
}

/** Notes about keys of the service's own container, said once however many pods it is in. */
function annotateOnce(svc: Service, notes: Notes): void {
  if (svc.stopSignal !== "SIGTERM") notes.unmapped("stop_signal", `Kubernetes stops containers with the image's STOPSIGNAL (SIGTERM by default), not ${svc.stopSignal}: set it in the image`);
  if (svc.limits.nofile) notes.unmapped("limits.nofile", "Kubernetes has no per-container open-files limit (the node's container runtime sets it)");
  if (svc.limits.nproc) notes.unmapped("limits.nproc", "Kubernetes has no per-container process limit (the kubelet's podPidsLimit is per pod)");
  if (svc.hooks.post_stop) notes.unmapped("hooks.post_stop", "Kubernetes has no hook after a container stops");
  if (svc.restart !== "no" && svc.type !== "oneshot") notes.changed("restart_delay", "the kubelet's own back-off applies (10s, doubling up to 5m)");
  if (kindOf(svc) === "process") notes.changed("command", "runs with hostNetwork (as under sv: it listens on and reaches 127.0.0.1), the project mounted from the node's own path (hostPath): copy the project to that path on every node, or build an image that contains it and drop the volume");
}

/** The objects that run one instance of a service (or all of them, as replicas). */
function workload(ctx: Ctx, svc: Service, place: Place, unit: string, instance: number, hasDependents: boolean): Obj[] {
  const notes = ctx.notesOf.get(svc.name)!;
  const name = k8sName(unit);
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": k8sName(ctx.project.name) };
  const perInstance = place.instanceNames.length > 1;
  const podSpec = (restartPolicy: string): Obj => podSpecOf(ctx, svc, place, perInstance ? instance : 0, restartPolicy);
  const meta = (extra: Obj = {}): Obj => ({ name, labels, ...extra });
  const annotations = dependsAnnotation(ctx.project, svc);
  const template = (restartPolicy: string) => ({ metadata: { labels, ...(annotations ? { annotations } : {}) }, spec: podSpec(restartPolicy) });

  if (svc.type === "oneshot") {
    return [{ apiVersion: "batch/v1", kind: "Job", metadata: meta(), spec: { backoffLimit: svc.restart === "no" ? 0 : svc.maxRestarts, template: template(svc.restart === "no" ? "Never" : "OnFailure") } }];
  }
  if (svc.type === "multi-shot") {
    notes.changed("type", `multi-shot: a suspended CronJob; each \`kubectl create job --from=cronjob/${name} ${name}-RUN\` is one run`);
    return [{ apiVersion: "batch/v1", kind: "CronJob", metadata: meta(), spec: { suspend: true, schedule: "0 0 1 1 *", jobTemplate: { spec: { backoffLimit: svc.restart === "no" ? 0 : svc.maxRestarts, template: template(svc.restart === "no" ? "Never" : "OnFailure") } } } }];
  }
  const idle = svc.type === "on-demand" && !hasDependents;
  if (svc.restart === "always" || idle) {
    const replicas = idle ? 0 : perInstance ? 1 : svc.instances;
    if (idle && instance === 0) notes.changed("type", `on-demand: a Deployment with 0 replicas; \`kubectl scale deployment/${name} --replicas=${perInstance ? 1 : svc.instances}\` starts it`);
    if (idle && svc.restart !== "always" && instance === 0) notes.changed("restart", `restart: ${svc.restart}: a Deployment's pods always restart`);
    if (!perInstance && svc.instances > 1) notes.changed("instances", "replicas are alike: SV_INSTANCE is 0 in every one");
    if (svc.maxRestarts > 0 && instance === 0) notes.unmapped("max_restarts", "a Deployment restarts its pods without limit");
    return [{ apiVersion: "apps/v1", kind: "Deployment", metadata: meta(), spec: { replicas, selector: { matchLabels: { "app.kubernetes.io/name": name } }, template: template("Always") } }];
  }
  if (instance === 0) {
    notes.changed("restart", `restart: ${svc.restart}: ${perInstance || svc.instances > 1 ? "Pods" : "a Pod"} with restartPolicy: ${svc.restart === "no" ? "Never" : "OnFailure"}, since a Deployment's pods always restart (restart: always makes it a Deployment)`);
    if (svc.maxRestarts > 0 && svc.restart !== "no") notes.unmapped("max_restarts", "a Pod restarts its containers without limit");
  }
  const pods = perInstance || svc.instances === 1 ? [{ unit, i: perInstance ? instance : 0 }] : Array.from({ length: svc.instances }, (_, i) => ({ unit: `${unit}-${i}`, i }));
  if (!perInstance && svc.instances > 1) notes.changed("instances", `one Pod per instance (${pods.map((p) => k8sName(p.unit)).join(", ")})`);
  return pods.map((p) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: k8sName(p.unit), labels: { ...labels, "app.kubernetes.io/name": name }, ...(annotations ? { annotations } : {}) },
    spec: podSpecOf(ctx, svc, place, p.i, svc.restart === "no" ? "Never" : "OnFailure"),
  }));
}

/** `sv/depends-on: db=healthy,migrate=completed`: every dependency stays visible on the pod, whatever waits for it. */
function dependsAnnotation(project: Project, svc: Service): Obj | undefined {
  const deps = dependencies(project, svc);
  return deps.length ? { "sv/depends-on": deps.map((d) => `${d.name}=${d.condition}`).join(",") } : undefined;
}

/** The pod spec of one instance: waits and oneshot dependencies first, then the service's container. */
function podSpecOf(ctx: Ctx, svc: Service, place: Place, instance: number, restartPolicy: string): Obj {
  const parts: PodParts = { initContainers: [], volumes: new Map() };
  const seen = new Set<string>();
  addDependencies(ctx, svc, place, parts, seen);
  const main = containerOf(ctx, svc, place, instance, parts, ctx.notesOf.get(svc.name)!, true);
  if (svc.hooks.pre_start) parts.initContainers.push({ name: "pre-start", image: place.image, command: commandArgv(svc.hooks.pre_start), env: main.env, ...(main.workingDir ? { workingDir: main.workingDir } : {}), ...(main.volumeMounts ? { volumeMounts: main.volumeMounts } : {}) });
  const spec: Obj = {};
  if (place.hostNetwork) Object.assign(spec, { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" });
  spec.restartPolicy = restartPolicy;
  spec.terminationGracePeriodSeconds = secondsOf(svc.stopTimeoutMs, 0);
  const user = securityOf(svc, ctx.notesOf.get(svc.name)!);
  if (user) spec.securityContext = user;
  if (parts.initContainers.length) spec.initContainers = parts.initContainers;
  spec.containers = [main];
  if (parts.volumes.size) spec.volumes = [...parts.volumes.values()];
  return spec;
}

/** Init containers for the dependencies of `svc`, in the order written: a oneshot runs (after its own), others are waited for. */
function addDependencies(ctx: Ctx, svc: Service, pod: Place, parts: PodParts, seen: Set<string>): void {
  const notes = ctx.notesOf.get(svc.name)!;
  for (const d of dependencies(ctx.project, svc)) {
    if (seen.has(d.name)) continue;
    seen.add(d.name);
    const dep = ctx.project.services.get(d.name)!;
    const dp = ctx.places.get(d.name)!;
    if (dp.skip) {
      notes.unmapped(`depends_on.${d.name}`, `${d.name} is not exported (${dp.skip.why.split(":")[0]}): nothing waits for it`);
      continue;
    }
    if (dep.type === "oneshot") {
      addDependencies(ctx, dep, pod, parts, seen);
      if (pod.hostNetwork !== dp.hostNetwork) notes.changed(`depends_on.${d.name}`, `${d.name} runs in this pod's network (${pod.hostNetwork ? "the host's" : "the pod's"}), not its own`);
      parts.initContainers.push(containerOf(ctx, dep, dp, 0, parts, ctx.notesOf.get(d.name)!, false, pod));
      continue;
    }
    if (d.condition === "completed") {
      notes.unmapped(`depends_on.${d.name}`, `condition completed on ${dep.type} service ${d.name}: an initContainer cannot wait for another pod to exit`);
      continue;
    }
    if (d.condition === "started") {
      notes.changed(`depends_on.${d.name}`, `condition started: pods start together; nothing waits for ${d.name} (the pod's sv/depends-on annotation records it)`);
      continue;
    }
    const wait = waitForDependency(dep, addressOf(dep, dp, pod), notes);
    if (wait) parts.initContainers.push({ name: `wait-${k8sName(d.name)}`.slice(0, 63), image: ctx.waitImage, command: ["/bin/sh", "-c", wait] });
  }
}

/** Where `pod` reaches dependency `dep`: 127.0.0.1 when both are on the host's network, else its Service. */
function addressOf(dep: Service, dp: Place, pod: Place): { host: string; port: number } | undefined {
  if (dep.port === undefined) return undefined;
  if (dp.hostNetwork && pod.hostNetwork) return { host: "127.0.0.1", port: dep.port };
  return { host: k8sName(dp.instanceNames[0]!), port: dep.container && !dp.hostNetwork ? (dep.container.containerPort ?? dep.port) : dep.port };
}

/** The container of a service (its main container, or an initContainer of a dependent's pod `pod`). */
function containerOf(ctx: Ctx, svc: Service, place: Place, instance: number, parts: PodParts, notes: Notes, main: boolean, pod: Place = place): Obj {
  const c = svc.container;
  const process = kindOf(svc) === "process";
  const out: Obj = { name: k8sName(svc.name), image: place.image };
  if (process) out.command = commandArgv(svc.command);
  else {
    if (c?.entrypoint) out.command = c.entrypoint;
    if (c?.command) out.args = c.command;
  }
  const workingDir = process ? svc.cwd : c?.workdir;
  if (workingDir) out.workingDir = workingDir;
  const env: Record<string, string> = { ...svc.env, ...ownVars(svc, instance) };
  for (const d of dependencies(ctx.project, svc)) {
    const dp = ctx.places.get(d.name)!;
    const dep = ctx.project.services.get(d.name)!;
    if (dp.skip || dep.port === undefined) continue;
    const at = addressOf(dep, dp, pod);
    if (!at) continue;
    if (pod.hostNetwork && !dp.hostNetwork && main) notes.changed(`depends_on.${d.name}`, `reaches ${d.name} by its Service name from the host's network (dnsPolicy: ClusterFirstWithHostNet)`);
    if (!pod.hostNetwork && dp.hostNetwork && main) notes.changed(`depends_on.${d.name}`, `reaches ${d.name} through its Service: ${d.name} runs on the host's network and must listen on an address other nodes reach, not only 127.0.0.1`);
    Object.assign(env, addressVars(d.name, at.host, at.port));
  }
  out.env = Object.entries(env).map(([name, value]) => ({ name, value: value.replaceAll("$(", () => "$$(") }));
  const ports = portsOf(svc, place, instance);
  if (ports.length && main) out.ports = ports;
  const mounts: Obj[] = [];
  if (process) {
    parts.volumes.set("project", { name: "project", hostPath: { path: ctx.project.root, type: "Directory" } });
    mounts.push({ name: "project", mountPath: ctx.project.root });
  }
  for (const [i, v] of (c?.volumes ?? []).entries()) {
    const vname = v.kind === "bind" ? `${k8sName(svc.name)}-bind-${i}` : `vol-${k8sName(v.source.toLowerCase())}`;
    if (v.kind === "bind") parts.volumes.set(vname, { name: vname, hostPath: { path: v.source } });
    else {
      const claim = k8sName(`${ctx.project.name}-${v.source.toLowerCase()}`);
      parts.volumes.set(vname, { name: vname, persistentVolumeClaim: { claimName: claim } });
      if (!ctx.claims.has(claim)) {
        ctx.claims.set(claim, { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claim }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
        notes.changed("volumes", `named volume ${v.source}: a PersistentVolumeClaim ${claim} of 1Gi (set the size and class it needs)`);
      }
    }
    if (v.kind === "bind" && main) notes.changed("volumes", `${v.source}: a hostPath volume, so the path must exist on the node that runs the pod`);
    mounts.push({ name: vname, mountPath: v.target, ...(v.readOnly ? { readOnly: true } : {}) });
  }
  if (mounts.length) out.volumeMounts = mounts;
  if (svc.limits.memoryBytes) out.resources = { limits: { memory: memoryText(svc.limits.memoryBytes, "kubernetes") } };
  if (main && svc.type !== "oneshot" && svc.type !== "multi-shot") Object.assign(out, probesOf(svc, place, instance, notes, ctx.project.defaultTimeoutMs));
  if (main && svc.hooks.post_start) out.lifecycle = { ...((out.lifecycle as Obj) ?? {}), postStart: { exec: { command: commandArgv(svc.hooks.post_start) } } };
  if (main && svc.hooks.pre_stop) out.lifecycle = { ...((out.lifecycle as Obj) ?? {}), preStop: { exec: { command: commandArgv(svc.hooks.pre_stop) } } };
  // Kubernetes expands $(VAR) in command and args: a literal one is written $$(
  for (const key of ["command", "args"] as const) if (Array.isArray(out[key])) out[key] = (out[key] as string[]).map((a) => a.replaceAll("$(", () => "$$("));
  return out;
}

/** containerPort (and hostPort/hostIP where sv publishes it) of one instance. */
function portsOf(svc: Service, place: Place, instance: number): Obj[] {
  const c = svc.container;
  // on the host's network a pod declares no ports: they are the host's own (podman refuses port mappings there)
  if (!c || place.hostNetwork) return [];
  return c.ports.map((p) => ({ containerPort: p.containerPort, ...(p.hostPort !== undefined ? { hostPort: p.hostPort + instance } : {}), ...(p.hostIp && p.hostPort !== undefined ? { hostIP: p.hostIp } : {}), protocol: p.protocol.toUpperCase() }));
}

/** startup, readiness and liveness probes from the health check (sv: readiness while starting, liveness afterwards). */
function probesOf(svc: Service, place: Place, instance: number, notes: Notes, defaultTimeoutMs: number): Obj {
  const hc = svc.healthCheck;
  if (hc.type === "process") return {};
  let action: Obj;
  if (hc.type === "command") {
    const argv = commandArgv(hc.command!);
    action = { exec: { command: hc.expectedExitCode === 0 ? argv : ["/bin/sh", "-c", `"$@"; [ $? -eq ${hc.expectedExitCode} ]`, "sh", ...argv] } };
  } else {
    const e = endpointOf(hc);
    if (!e) return {};
    let port = typeof e.port === "number" ? e.port : Number(e.port);
    if (svc.port !== undefined && port === svc.port) port += instance;
    const published = svc.container?.ports.find((p) => p.hostPort !== undefined && p.hostPort === port);
    const inPod = published && !place.hostNetwork ? published.containerPort : port;
    const loopback = isLoopback(e.host);
    const host = place.hostNetwork && loopback ? { host: "127.0.0.1" } : !loopback ? { host: e.host } : {};
    if (hc.type === "tcp") action = { tcpSocket: { port: inPod, ...host } };
    else {
      if (hc.expectedStatus < 200 || hc.expectedStatus > 399) notes.unmapped("health_check.expected_status", `an httpGet probe passes on any status 200-399, never on ${hc.expectedStatus}`);
      else if (hc.expectedStatus !== 200) notes.changed("health_check.expected_status", `an httpGet probe passes on any status 200-399, not only ${hc.expectedStatus}`);
      action = { httpGet: { path: e.path, port: inPod, scheme: e.https ? "HTTPS" : "HTTP", ...host } };
    }
  }
  const period = secondsOf(hc.intervalMs);
  const timing = { periodSeconds: period, timeoutSeconds: secondsOf(hc.timeoutMs), failureThreshold: hc.retries };
  if (hc.intervalMs % 1000 !== 0 || hc.timeoutMs % 1000 !== 0) notes.changed("health_check", "probe periods and timeouts are whole seconds: rounded up");
  const startTimeoutMs = svc.startTimeoutMs ?? defaultTimeoutMs;
  const startup = { ...action, periodSeconds: period, timeoutSeconds: timing.timeoutSeconds, failureThreshold: Math.max(1, Math.ceil(startTimeoutMs / 1000 / period)), ...(hc.startPeriodMs ? { initialDelaySeconds: secondsOf(hc.startPeriodMs) } : {}) };
  return { startupProbe: startup, readinessProbe: { ...action, ...timing }, livenessProbe: { ...action, ...timing } };
}

/** runAsUser/runAsGroup: Kubernetes takes numbers; names are looked up in this machine's /etc/passwd and /etc/group. */
function securityOf(svc: Service, notes: Notes): Obj | undefined {
  const out: Obj = {};
  const lookup = (file: "/etc/passwd" | "/etc/group", key: string) => {
    if (/^\d+$/.test(key)) return Number(key);
    try {
      const f = accountEntry(file, key, {});
      return f ? Number(f[2]) : undefined;
    } catch {
      return undefined;
    }
  };
  if (svc.user) {
    const uid = lookup("/etc/passwd", svc.user);
    if (uid === undefined) notes.unmapped("user", `${svc.user} is not in this machine's /etc/passwd: Kubernetes needs a numeric runAsUser`);
    else {
      out.runAsUser = uid;
      if (!/^\d+$/.test(svc.user)) notes.changed("user", `${svc.user} is uid ${uid} on this machine (runAsUser takes a number): check it is the same in the image`);
    }
  }
  if (svc.group) {
    const gid = lookup("/etc/group", svc.group);
    if (gid === undefined) notes.unmapped("group", `${svc.group} is not in this machine's /etc/group: Kubernetes needs a numeric runAsGroup`);
    else out.runAsGroup = gid;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The Service in front of a service's port: its name is the address dependents use. */
function serviceObject(project: Project, svc: Service, unit: string, instance: number): Obj {
  const name = k8sName(unit);
  const port = svc.container && svc.container.networkMode !== "host" ? (svc.container.containerPort ?? svc.port!) : svc.port! + instance;
  return { apiVersion: "v1", kind: "Service", metadata: { name, labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": k8sName(project.name) } }, spec: { selector: { "app.kubernetes.io/name": name }, ports: [{ name: "main", port, targetPort: port, protocol: "TCP" }] } };
}
