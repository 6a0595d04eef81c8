// `sv hosts`: is each host reachable, and how fast; `sv hosts trust NAME`: record a host's key in its
// known_hosts, explicitly (ssh never accepts one silently here).
import { spawnSync } from "bun";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { HostSpec } from "../../config/hosts.ts";
import { SvError } from "../../errors.ts";
import { HostUnreachable, type Transport } from "./transport.ts";

export interface HostReport {
  name: string;
  address: string;
  port: number;
  user: string | null;
  reachable: boolean;
  /** reachable; unreachable (it does not answer); or error (a mistake to fix: keys, authentication). */
  status: "reachable" | "unreachable" | "error";
  /** A round trip over the host's (warm) master, in ms. */
  latency_ms: number | null;
  /** When unreachable: since (ISO) and why. */
  since: string | null;
  error: string | null;
}

/** Look at one host: connect (start its master if needed), then time one command over it. */
export async function reportHost(t: Transport, host: HostSpec): Promise<HostReport> {
  const base = { name: host.name, address: host.address, port: host.port, user: host.user ?? null };
  try {
    await t.run(host, "true");
    const t0 = performance.now();
    await t.run(host, "true");
    return { ...base, reachable: true, status: "reachable", latency_ms: Math.round((performance.now() - t0) * 10) / 10, since: null, error: null };
  } catch (e) {
    if (!(e instanceof SvError)) throw e;
    return { ...base, reachable: false, status: e instanceof HostUnreachable ? "unreachable" : "error", latency_ms: null, since: t.unreachableSince(host.name), error: e.message };
  }
}

/** Fetch `host`'s keys (ssh-keyscan) and record them; says what was recorded. A different recorded key is an error. */
export function trustHost(host: HostSpec): { fingerprints: string[]; added: boolean } {
  const timeout = String(Math.max(1, Math.ceil(host.connectTimeoutMs / 1000)));
  const scan = spawnSync(["ssh-keyscan", "-T", timeout, "-p", String(host.port), host.address], { stdout: "pipe", stderr: "pipe" });
  if (scan.exitCode === null || (scan.exitCode !== 0 && scan.stdout.length === 0)) {
    if (!Bun.which("ssh-keyscan")) throw new SvError("ssh-keyscan is not installed", { hint: "install the OpenSSH client (apt install openssh-client)" });
  }
  const lines = scan.stdout.toString().split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  if (lines.length === 0) throw new SvError(`host ${host.name} (${host.address}:${host.port}) sent no host key`, { hint: "is sshd running there, and the address and port right?" });
  const fingerprints = fingerprintsOf(lines.join("\n"));
  const known = existsSync(host.knownHosts) ? recordedFor(host) : [];
  if (known.length > 0) {
    const same = lines.every((l) => known.includes(keyOf(l)));
    if (same) return { fingerprints, added: false };
    throw new SvError(`host ${host.name} (${host.address}) offers a key other than the one recorded in ${host.knownHosts}`, {
      hint: `if it was reinstalled, remove the old key (ssh-keygen -R ${hostPattern(host)} -f ${host.knownHosts}) and trust it again`,
    });
  }
  mkdirSync(dirname(host.knownHosts), { recursive: true, mode: 0o700 });
  appendFileSync(host.knownHosts, `${lines.join("\n")}\n`, { mode: 0o600 });
  return { fingerprints, added: true };
}

/** How a host appears in known_hosts: `address`, or `[address]:port` off port 22. */
function hostPattern(host: HostSpec): string {
  return host.port === 22 ? host.address : `[${host.address}]:${host.port}`;
}

/** The keys ("type base64") recorded for the host. */
function recordedFor(host: HostSpec): string[] {
  const found = spawnSync(["ssh-keygen", "-F", hostPattern(host), "-f", host.knownHosts], { stdout: "pipe", stderr: "pipe" });
  return found.stdout.toString().split("\n").filter((l) => l && !l.startsWith("#")).map(keyOf);
}

const keyOf = (line: string) => line.trim().split(/\s+/).slice(1, 3).join(" ");

function fingerprintsOf(lines: string): string[] {
  const r = spawnSync(["ssh-keygen", "-l", "-f", "-"], { stdin: Buffer.from(`${lines}\n`), stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().split("\n").filter(Boolean).map((l) => {
    const [, , fp, , type] = l.match(/^(\d+) (\S+) (.*) \((\w+)\)$/) ?? [];
    return fp ? `${type} ${fp}` : l;
  });
}

/** Does the known_hosts file exist and hold anything for the host? (For `sv hosts`' hint.) */
export function isTrusted(host: HostSpec): boolean {
  return existsSync(host.knownHosts) && readFileSync(host.knownHosts, "utf8").length > 0 && recordedFor(host).length > 0;
}
