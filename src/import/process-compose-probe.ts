// A process-compose readiness or liveness probe (exec or http_get) as an sv health_check, and the port it reveals.
import { fromSeconds } from "./durations.ts";
import { quoteWord } from "./shell-words.ts";
import type { PortValue } from "./ports.ts";
import { isRecord, scalarText } from "./values.ts";
import type { Seg } from "./yaml-source.ts";

const LOCAL = new Set(["127.0.0.1", "localhost", "0.0.0.0", "::1", "[::1]"]);
const TIMINGS: [string, string][] = [
  ["period_seconds", "interval"],
  ["timeout_seconds", "timeout"],
  ["initial_delay_seconds", "start_period"],
];

type Skip = (why: string, ...path: Seg[]) => void;
type Text = (value: string, ...path: Seg[]) => string;

/** The health_check of a probe, and the port an http_get on this machine names; undefined when nothing maps. */
export function pcProbe(probe: unknown, skip: Skip, text: Text): { health_check: Record<string, unknown>; port?: PortValue } | undefined {
  if (!isRecord(probe)) return skip("must be a mapping"), undefined;
  const check: Record<string, unknown> = {};
  let port: PortValue | undefined;
  if (isRecord(probe.exec) && typeof probe.exec.command === "string") {
    const command = text(probe.exec.command, "exec", "command");
    const wd = probe.exec.working_dir;
    check.type = "command";
    check.command = typeof wd === "string" ? `cd ${quoteWord(text(wd, "exec", "working_dir"))} && ${command}` : command;
  } else if (isRecord(probe.http_get)) {
    const h = probe.http_get;
    const host = typeof h.host === "string" ? text(h.host, "http_get", "host") : "127.0.0.1";
    const scheme = typeof h.scheme === "string" ? h.scheme : "http";
    const path = typeof h.path === "string" ? text(h.path, "http_get", "path") : "/";
    const portText = scalarText(h.port);
    if (portText === undefined) return skip("an http_get probe needs a port", "http_get", "port"), undefined;
    const p = text(portText, "http_get", "port");
    check.type = "http";
    check.url = `${scheme}://${host}:${p}${path.startsWith("/") ? path : `/${path}`}`;
    if (typeof h.status_code === "number") check.expected_status = h.status_code;
    if (LOCAL.has(host)) port = /^\d+$/.test(p) ? Number(p) : p;
    for (const key of Object.keys(h)) if (!["host", "scheme", "path", "port", "status_code"].includes(key)) skip("not supported", "http_get", key);
  } else return skip("needs exec: { command } or http_get: { port, ... }"), undefined;
  for (const [pcKey, svKey] of TIMINGS) {
    if (probe[pcKey] === undefined) continue;
    const d = fromSeconds(probe[pcKey]);
    if (d) check[svKey] = d;
    else skip("must be a number of seconds", pcKey);
  }
  if (typeof probe.failure_threshold === "number" && probe.failure_threshold >= 1) check.retries = probe.failure_threshold;
  if (probe.success_threshold !== undefined && probe.success_threshold !== 1) skip("sv takes one success as ready", "success_threshold");
  for (const key of Object.keys(probe)) {
    if (!["exec", "http_get", "failure_threshold", "success_threshold", ...TIMINGS.map(([k]) => k)].includes(key)) skip("not supported", key);
  }
  return { health_check: check, ...(port !== undefined ? { port } : {}) };
}
