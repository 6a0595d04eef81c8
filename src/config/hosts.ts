// sv.yml `hosts:` and `networks:`: the machines services run on over ssh, and which of their addresses
// another host reaches them at. Pure: schemas, the normalised HostSpec, and the address rules.
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import * as v from "valibot";
import { Duration, NonEmpty, byKind, numeric, strict } from "./fields.ts";

/** The name a host is known by in sv.yml (`host: web1`); `local` is reserved for this machine. */
export const HOST_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** This machine, when it has to be reached from a host (a remote service depending on a local one). */
export const LOCAL_HOST = "local";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const ADDRESS = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9A-Fa-f:.]+\]?$/;
const Address = v.pipe(NonEmpty, v.check((a) => ADDRESS.test(a), "must be an IP address or a host name"));

export const HostSchema = strict(
  {
    address: Address,
    addresses: v.optional(byKind({ list: v.array(Address) }, "must be a list of addresses (on the networks: of sv.yml)"), []),
    user: v.optional(v.pipe(NonEmpty, v.regex(/^[A-Za-z0-9._][A-Za-z0-9._-]*$/, "must be a user name"))),
    port: v.optional(numeric("must be a port number (1-65535)", 1, 65535), 22),
    key_file: v.optional(NonEmpty),
    known_hosts: v.optional(NonEmpty),
    dir: v.optional(NonEmpty),
    connect_timeout: v.optional(Duration, "5s"),
  },
  "must be a mapping like { address: 10.0.0.11, user: deploy }",
);
export const HostsSchema = byKind({ mapping: v.record(v.pipe(v.string(), v.regex(HOST_NAME, "host names match [a-z0-9][a-z0-9_-]{0,62}")), HostSchema) }, "must be a mapping of name -> { address, user, port, key_file, dir }");

const Subnet = v.pipe(NonEmpty, v.check((s) => parseSubnet(s) !== null, "must be an IPv4 subnet like 10.0.0.0/24"));
export const NetworksSchema = byKind({ mapping: v.record(v.string(), strict({ subnet: Subnet })) }, "must be a mapping of name -> { subnet: 10.0.0.0/24 }");

/** A host as the ssh backend uses it. */
export interface HostSpec {
  name: string;
  address: string;
  /** Every address it has: `address` first, then `addresses`. */
  addresses: string[];
  user?: string;
  port: number;
  /** Absolute; undefined: ssh's own defaults (the agent, ~/.ssh/id_*). */
  keyFile?: string;
  /** The known_hosts file its key is checked against (absolute). */
  knownHosts: string;
  /** Where sv keeps this project's remote state and logs on it; may start with `~/` (the remote user's home). */
  dir: string;
  connectTimeoutMs: number;
}

export type RawHost = v.InferOutput<typeof HostSchema>;

/** The normalised host `name`; `stateDir` is where the project's own known_hosts lives by default. */
export function toHost(name: string, raw: RawHost, root: string, stateDir: string, project: string): HostSpec {
  return {
    name,
    address: raw.address,
    addresses: [raw.address, ...raw.addresses.filter((a) => a !== raw.address)],
    user: raw.user,
    port: raw.port,
    keyFile: raw.key_file === undefined ? undefined : localPath(raw.key_file, root),
    knownHosts: raw.known_hosts === undefined ? resolve(stateDir, "known_hosts") : localPath(raw.known_hosts, root),
    dir: (raw.dir ?? `~/.sv/${project}`).replace(/\/+$/, "") || "/",
    connectTimeoutMs: raw.connect_timeout,
  };
}

/** A path on this machine: `~/` is this user's home, relative ones are under the project root. */
function localPath(path: string, root: string): string {
  if (path === "~" || path.startsWith("~/")) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(root, path);
}

/** `10.0.0.0/24` -> [network as a 32-bit number, prefix length]; null when it is not one. */
export function parseSubnet(text: string): [number, number] | null {
  const [ip, len, ...rest] = text.split("/");
  const n = ipv4(ip ?? "");
  const bits = Number(len);
  if (n === null || rest.length || !/^\d{1,2}$/.test(len ?? "") || bits > 32) return null;
  return [n, bits];
}

function ipv4(text: string): number | null {
  const m = IPV4.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return null;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

function inSubnet(address: string, [net, bits]: [number, number]): boolean {
  const n = ipv4(address);
  if (n === null) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(n / size) === Math.floor(net / size);
}

/** Networks by name -> the subnet. */
export type Networks = Map<string, [number, number]>;

/**
 * The address `to` is reached at from `from`: on the first network both have an address on, else (no networks
 * declared) `to`'s address. null: they share none of the declared networks.
 */
export function addressBetween(from: HostSpec, to: HostSpec, networks: Networks): string | null {
  if (networks.size === 0) return to.address;
  for (const subnet of networks.values()) {
    const mine = from.addresses.some((a) => inSubnet(a, subnet));
    const theirs = to.addresses.find((a) => inSubnet(a, subnet));
    if (mine && theirs !== undefined) return theirs;
  }
  return null;
}
