// A service's health check as a shell test (exit 0 = healthy) for engines that have no probe of that kind:
// for bash on a systemd host (/dev/tcp, no other tool needed), and for /bin/sh inside a container (busybox's
// or coreutils' nc, wget or curl: what small images have).
import type { HealthCheck } from "../config/schema.ts";

/** A word for sh/bash: as it is when it is plain, else single-quoted. */
export function shWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export const shLine = (argv: string[]) => argv.map(shWord).join(" ");

/** Where a check connects: host, port, and for http the path and scheme. */
export interface Endpoint {
  host: string;
  /** A number, or a shell expansion such as "$PORT" (an instance of several). */
  port: number | string;
  path: string;
  https: boolean;
}

/** The endpoint of a tcp or http check (undefined: a tcp check with no port). */
export function endpointOf(hc: HealthCheck): Endpoint | undefined {
  if (hc.type === "http" && hc.url) {
    const u = new URL(hc.url);
    const https = u.protocol === "https:";
    return { host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port ? Number(u.port) : https ? 443 : 80, path: `${u.pathname}${u.search}` || "/", https };
  }
  if (hc.type === "tcp" && hc.port !== undefined) return { host: hc.host, port: hc.port, path: "/", https: false };
  return undefined;
}

/** Is `host` this machine's loopback (127.x, localhost, ::1), where a check aimed at it means "the service itself"? */
export const isLoopback = (host: string) => /^(127\.|localhost$|::1$)/.test(host);

const urlOf = (e: Endpoint) => `${e.https ? "https" : "http"}://${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}${e.path}`;

/** The command check as a shell test: its command, and its expected exit code. */
function commandTest(hc: HealthCheck): string {
  const run = typeof hc.command === "string" ? `/bin/sh -c ${shWord(hc.command)}` : shLine(hc.command ?? ["true"]);
  return hc.expectedExitCode === 0 ? run : `{ ${run}; [ $? -eq ${hc.expectedExitCode} ]; }`;
}

/**
 * The check as a bash test using only bash itself (plain http and tcp over /dev/tcp), or a reason it cannot
 * be one. `at` overrides where it connects.
 */
export function bashTest(hc: HealthCheck, at?: Endpoint): string | { why: string } {
  const t = Math.max(1, Math.ceil(hc.timeoutMs / 1000));
  if (hc.type === "command") return commandTest(hc);
  const e = at ?? endpointOf(hc);
  if (!e) return { why: "a tcp check without a port" };
  const dev = `/dev/tcp/${e.host}/${e.port}`;
  if (hc.type === "tcp") return `timeout ${t} bash -c ${shWord(`exec 3<>${dev}`)} 2>/dev/null`;
  if (e.https) return { why: "an https check needs curl; bash alone speaks plain http" };
  const request = `printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' ${shWord(e.path)} ${shWord(`${e.host}:${e.port}`)}`;
  const script = `exec 3<>${dev} && ${request} >&3 && read -r -t ${t} _ code _ <&3 && [ "$code" = ${hc.expectedStatus} ]`;
  return `timeout ${t} bash -c ${shWord(script)} 2>/dev/null`;
}

/** The check as a /bin/sh test inside a container (nc for tcp, wget or curl for http), or why it cannot be one. */
export function containerTest(hc: HealthCheck, at?: Endpoint): string | { why: string } {
  const t = Math.max(1, Math.ceil(hc.timeoutMs / 1000));
  if (hc.type === "command") return commandTest(hc);
  const e = at ?? endpointOf(hc);
  if (!e) return { why: "a tcp check without a port" };
  // busybox's nc has no -z: a connection with stdin at its end closes at once and says whether it opened
  if (hc.type === "tcp") return `nc -z ${e.host} ${e.port} 2>/dev/null || timeout ${t} nc ${e.host} ${e.port} </dev/null >/dev/null 2>&1`;
  const url = shWord(urlOf(e));
  if (hc.expectedStatus !== 200) return `[ "$(curl -s -o /dev/null -m ${t} -w '%{http_code}' ${url})" = ${hc.expectedStatus} ]`;
  // busybox 1.35's wget -T crashes: bound it with timeout instead
  return `timeout ${t} wget -q -O /dev/null ${url} 2>/dev/null || curl -fsS -o /dev/null -m ${t} ${url}`;
}

/** A loop that waits until `test` passes, polling every `intervalMs`. */
export function waitLoop(test: string, intervalMs: number): string {
  return `until ${test}; do sleep ${Math.max(0.1, intervalMs / 1000)}; done`;
}
