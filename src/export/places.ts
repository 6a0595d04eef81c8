// Where each service runs in a container engine (compose, Kubernetes): its image, whether it is on the host's
// network, the names of its instances, or why it cannot run there at all.
import type { Project, Service } from "../config/schema.ts";
import { kindOf } from "./select.ts";

export interface Place {
  /** Set when the service cannot be exported to a container engine. */
  skip?: { key: string; why: string };
  image: string;
  /** On the host's network: process services (they listen on and reach 127.0.0.1, as under sv), and network_mode: host. */
  hostNetwork: boolean;
  /** One name, or one per instance (`api-0` …) when each instance serves its own host port. */
  instanceNames: string[];
}

/** Does each instance need its own host port (sv gives instance i port+i)? */
function ownPorts(svc: Service, hostNetwork: boolean): boolean {
  if (svc.instances < 2 || svc.type === "multi-shot") return false;
  return hostNetwork ? svc.port !== undefined : (svc.container?.ports.some((p) => p.hostPort !== undefined) ?? false);
}

export function placesOf(project: Project, order: string[], image: string | undefined): Map<string, Place> {
  const out = new Map<string, Place>();
  for (const name of order) {
    const svc = project.services.get(name)!;
    const kind = kindOf(svc);
    if (kind === "remote") {
      const what = svc.remote!.package ? "package" : "host";
      out.set(name, { skip: { key: what, why: `runs on host ${svc.remote!.host} over ssh${what === "package" ? " as a deployed package" : ""}: a container engine cannot run it; export it from a project where it is local, or make it an image: service` }, image: "", hostNetwork: false, instanceNames: [name] });
      continue;
    }
    if (kind === "process" && !image) {
      out.set(name, { skip: { key: "command", why: "a process service needs an image to run in: pass --image IMG (a base image with what its command needs; the project is mounted at its own path)" }, image: "", hostNetwork: false, instanceNames: [name] });
      continue;
    }
    const hostNetwork = kind === "process" || svc.container?.networkMode === "host";
    const instanceNames = ownPorts(svc, hostNetwork) ? Array.from({ length: svc.instances }, (_, i) => `${name}-${i}`) : [name];
    out.set(name, { image: kind === "process" ? image! : svc.container!.image, hostNetwork, instanceNames });
  }
  return out;
}

/** A byte count the way docker and Kubernetes read memory: 512Mi-style for Kubernetes, 512m for docker. */
export function memoryText(bytes: number, style: "docker" | "kubernetes" = "docker"): string {
  const units: [number, string, string][] = [
    [1024 ** 3, "g", "Gi"],
    [1024 ** 2, "m", "Mi"],
    [1024, "k", "Ki"],
  ];
  for (const [size, docker, k8s] of units) if (bytes % size === 0) return `${bytes / size}${style === "docker" ? docker : k8s}`;
  return style === "docker" ? `${bytes}b` : String(bytes);
}
