// A container's own keys as users write them (compose syntax): `ports:` and `volumes:` entries, the
// project name, the engine's socket. Pure parsing: each returns the parsed value or the message of why not.
import { basename, isAbsolute, resolve } from "node:path";

export const PULL_POLICIES = ["missing", "always", "never"] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];
/** `project`: the project's network, where containers reach each other by service name. */
export const NETWORK_MODES = ["project", "host", "none"] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

/** One published (or only exposed) port: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`. */
export interface PortMapping {
  hostIp: string;
  /** Absent: the port is only reachable on the project network. */
  hostPort?: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** A bind mount of a host path (absolute after resolving against the root), or a named volume. */
export interface VolumeMount {
  kind: "bind" | "volume";
  source: string;
  target: string;
  readOnly: boolean;
}

/** What makes a service a container; the rest (env, user, limits, stop signal …) is the service's own keys. */
export interface ContainerSpec {
  image: string;
  /** Overrides the image's entrypoint (argv); absent: the image's. */
  entrypoint?: string[];
  /** Overrides the image's command (argv; a string is run by /bin/sh -c); absent: the image's. */
  command?: string[];
  ports: PortMapping[];
  volumes: VolumeMount[];
  pull: PullPolicy;
  networkMode: NetworkMode;
  /** The port dependents on the project network use: the container side of the service's `port`. */
  containerPort?: number;
  /** The working directory inside the container; absent: the image's. */
  workdir?: string;
}

/** The name by which a container on the project network reaches this machine (services sv runs as processes). */
export const HOST_ALIAS = "host.sv.internal";

const PORT_RE = /^(?:(?<ip>\[[0-9a-fA-F:.]+\]|\d{1,3}(?:\.\d{1,3}){3}):)?(?:(?<host>\d+):)?(?<container>\d+)(?:\/(?<proto>tcp|udp))?$/;

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** A `ports:` entry: `8080:80`, `127.0.0.1:8080:80`, `[::1]:8080:80/tcp`, `80` (not published). */
export function parsePort(input: string | number): PortMapping | string {
  const text = String(input).trim();
  if (/\d+-\d+/.test(text)) return `"${text}": port ranges are not supported; list each port`;
  const m = PORT_RE.exec(text);
  if (!m?.groups) return `"${text}" is not a port mapping like "8080:80" or "127.0.0.1:8080:80"`;
  const { ip, host, container, proto } = m.groups;
  const containerPort = Number(container);
  const hostPort = host === undefined ? undefined : Number(host);
  if (!isPort(containerPort) || (hostPort !== undefined && !isPort(hostPort))) return `"${text}": ports must be 1-65535`;
  if (ip?.includes(".") && !ip.startsWith("[") && ip.split(".").some((o) => Number(o) > 255)) return `"${text}": ${ip} is not an IPv4 address`;
  const hostIp = ip === undefined ? "" : ip.replace(/^\[|\]$/g, "");
  return { hostIp, hostPort, containerPort, protocol: proto === "udp" ? "udp" : "tcp" };
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A `volumes:` entry: `./data:/data`, `/srv/x:/x:ro`, `cache:/var/cache` (a named volume). */
export function parseVolume(input: string, root: string): VolumeMount | string {
  const parts = input.split(":");
  if (parts.length < 2 || parts.length > 3) return `"${input}" is not a volume like "./data:/data" or "NAME:/data[:ro]"`;
  const [source, target, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && mode !== "ro" && mode !== "rw") return `"${input}": the mode must be ro or rw (got "${mode}")`;
  if (!isAbsolute(target)) return `"${input}": the container path must be absolute (like /data)`;
  const readOnly = mode === "ro";
  if (source.startsWith(".") || source.startsWith("/") || source.startsWith("~")) {
    if (source.startsWith("~")) return `"${input}": ~ is not expanded; write the path out, or relative to the project root`;
    return { kind: "bind", source: resolve(root, source), target, readOnly };
  }
  if (!VOLUME_NAME.test(source)) return `"${input}": "${source}" is neither a path (./dir, /dir) nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`;
  return { kind: "volume", source, target, readOnly };
}

/** Engine object names: container, network and volume names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
export const PROJECT_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** The default project name: the root folder's name, lower-cased, other characters as "-" (as compose does). */
export function defaultProjectName(root: string): string {
  const name = basename(root).toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 63);
  return name || "sv";
}

/** sv.yml `docker.host` -> the socket path: `unix:///path` or a path; other schemes are not supported. */
export function parseDockerHost(host: string, root: string): { socket: string } | string {
  if (host.startsWith("unix://")) return { socket: host.slice("unix://".length) };
  if (/^[a-z]+:\/\//.test(host)) return `"${host}": only unix:// sockets are supported (an ssh:// or tcp:// engine: forward its socket, e.g. ssh -L)`;
  return { socket: resolve(root, host) };
}
