// The body of POST /containers/create for one unit: a service's keys in the Engine API's terms
// (fields of API 1.41 only). Pure, so it is tested without an engine.
import { type ContainerSpec, HOST_ALIAS } from "../../config/container.ts";
import type { Project, Service } from "../../config/schema.ts";
import type { StartRequest } from "../backend.ts";
import { LABEL, networkName, unitLabels, volumeName } from "./names.ts";

/** The container of a service that is one (its `container` spec), or a bug. */
export function containerOf(svc: Service): ContainerSpec {
  if (!svc.container) throw new Error(`bug: ${svc.name} is not a container`);
  return svc.container;
}

/** Host ports of instance `instance`: each published port shifted by the instance number, as `port:` is. */
export function publishedPorts(svc: Service, instance: number): { hostIp: string; hostPort: number; containerPort: number; protocol: string }[] {
  const shift = svc.type === "multi-shot" ? 0 : instance;
  return containerOf(svc).ports.flatMap((p) => (p.hostPort === undefined ? [] : [{ ...p, hostPort: p.hostPort + shift }]));
}

/** The engine's name of a `volumes:` source: a path as is, a named volume under the project. */
export const bindSource = (project: Project, v: ContainerSpec["volumes"][number]) => (v.kind === "bind" ? v.source : volumeName(project, v.source));

/** The create body; `gateway` is the project network's gateway address (the host, as its containers see it). */
export function createBody(project: Project, req: StartRequest, gateway: string | null = null, creator = ""): Record<string, unknown> {
  const { svc, unit } = req;
  const c = containerOf(svc);
  const env: Record<string, string> = { ...svc.env, ...req.env };
  // PORT is the port the process serves, which inside the container is the container's side.
  if (c.containerPort !== undefined && env.PORT !== undefined) env.PORT = String(c.containerPort);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of c.ports) exposed[`${p.containerPort}/${p.protocol}`] = {};
  for (const p of publishedPorts(svc, req.instance)) (bindings[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  const ulimits = [
    ...(svc.limits.nofile ? [{ Name: "nofile", Soft: svc.limits.nofile, Hard: svc.limits.nofile }] : []),
    ...(svc.limits.nproc ? [{ Name: "nproc", Soft: svc.limits.nproc, Hard: svc.limits.nproc }] : []),
  ];
  const network = c.networkMode === "project" ? networkName(project) : c.networkMode;
  return {
    Image: c.image,
    ...(c.command ? { Cmd: c.command } : {}),
    ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...unitLabels(project, svc.name, unit, req.spec), [LABEL.creator]: creator },
    ...(c.workdir ? { WorkingDir: c.workdir } : {}),
    ...(svc.user ? { User: svc.group ? `${svc.user}:${svc.group}` : svc.user } : {}),
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    StopSignal: svc.stopSignal,
    StopTimeout: Math.ceil(svc.stopTimeoutMs / 1000),
    HostConfig: {
      NetworkMode: network,
      PortBindings: bindings,
      Binds: c.volumes.map((v) => `${bindSource(project, v)}:${v.target}${v.readOnly ? ":ro" : ""}`),
      ...(gateway ? { ExtraHosts: [`${HOST_ALIAS}:${gateway}`] } : {}),
      RestartPolicy: { Name: "no" }, // sv supervises: the engine must not restart behind its back
      ...(svc.limits.memoryBytes ? { Memory: svc.limits.memoryBytes } : {}),
      ...(ulimits.length ? { Ulimits: ulimits } : {}),
    },
    ...(c.networkMode === "project" ? { NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [svc.name, unit] } } } } : {}),
  };
}

