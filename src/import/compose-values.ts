// Compose's list values: ports and volumes (short and long syntax) as sv's strings, and a healthcheck as a health_check.
import type { ImportContext } from "./context.ts";
import { formatMs, parseGoDuration } from "./durations.ts";
import { isRecord, scalarText } from "./values.ts";
import type { Seg } from "./yaml-source.ts";

type Why = { why: string };

/** A `ports:` entry as an sv string ("127.0.0.1:8080:80/udp"), or why it cannot be one. */
export function composePort(entry: unknown, text: (s: string) => string): string | Why {
  if (isRecord(entry)) {
    const target = scalarText(entry.target);
    if (target === undefined) return { why: "a long-syntax port needs target:" };
    const published = scalarText(entry.published);
    const hostIp = typeof entry.host_ip === "string" ? (entry.host_ip.includes(":") ? `[${entry.host_ip}]` : entry.host_ip) : "";
    const proto = entry.protocol === "udp" ? "/udp" : "";
    entry = `${hostIp ? `${hostIp}:` : ""}${published !== undefined ? `${published}:` : hostIp ? ":" : ""}${target}${proto}`;
    if (hostIp && published === undefined) return { why: "a host_ip without published: port is not supported" };
  }
  const s = scalarText(entry);
  if (s === undefined) return { why: "must be a string like \"8080:80\" or a mapping with target:" };
  if (/\d+-\d+/.test(s)) return { why: `"${s}": sv does not publish port ranges; list each port` };
  if (/\/sctp$/.test(s)) return { why: `"${s}": sctp is not supported` };
  return text(s);
}

/** A `volumes:` entry as an sv string ("./data:/data:ro", "cache:/var/cache"), relative bind paths rewritten against the new root. */
export function composeVolume(entry: unknown, ctx: ImportContext, text: (s: string) => string): string | Why {
  let source: string | undefined;
  let target: string | undefined;
  let readOnly = false;
  if (isRecord(entry)) {
    if (entry.type === "tmpfs" || entry.type === "npipe" || entry.type === "cluster" || entry.type === "image") return { why: `a ${entry.type} mount is not supported` };
    source = typeof entry.source === "string" ? text(entry.source) : undefined;
    target = typeof entry.target === "string" ? text(entry.target) : undefined;
    readOnly = entry.read_only === true;
    if (source === undefined) return { why: "an anonymous volume (no source:) is not supported: name it" };
  } else if (typeof entry === "string") {
    const parts = text(entry).split(":");
    if (parts.length === 1) return { why: `"${entry}": an anonymous volume is not supported: name it (NAME:${entry})` };
    [source, target] = parts as [string, string];
    const modes = (parts[2] ?? "").split(",").filter(Boolean);
    readOnly = modes.includes("ro");
    const other = modes.filter((m) => m !== "ro" && m !== "rw");
    if (other.length) return `${bindPath(source, ctx)}:${target}${readOnly ? ":ro" : ""}`; // z, Z, cached, delegated: not needed here
  } else return { why: "must be a string like \"./data:/data\" or a mapping with source: and target:" };
  if (target === undefined || !target.startsWith("/")) return { why: "the container path must be absolute" };
  return `${bindPath(source, ctx)}:${target}${readOnly ? ":ro" : ""}`;
}

/** A bind source relative to the compose file, as a path relative to the new root; a volume name as it is. */
function bindPath(source: string, ctx: ImportContext): string {
  return source.startsWith(".") ? ctx.path(source) : source;
}

/** A compose healthcheck as an sv health_check (a command run in the container), or undefined when none is left. */
export function composeHealthCheck(hc: unknown, skip: (why: string, ...path: Seg[]) => void, text: (s: string, ...path: Seg[]) => string): Record<string, unknown> | undefined {
  if (!isRecord(hc)) return skip("must be a mapping"), undefined;
  if (hc.disable === true) return { type: "process" };
  const check: Record<string, unknown> = {};
  const test = hc.test;
  if (typeof test === "string") check.command = text(test, "test");
  else if (Array.isArray(test) && test.length > 0 && test.every((w) => scalarText(w) !== undefined)) {
    const [kind, ...rest] = test.map((w) => scalarText(w)!);
    if (kind === "NONE") return { type: "process" };
    if (kind === "CMD-SHELL" && rest.length === 1) check.command = text(rest[0]!, "test", 1);
    else if (kind === "CMD" && rest.length > 0) check.command = rest.map((w, i) => text(w, "test", i + 1));
    else return skip('must be ["CMD", ...], ["CMD-SHELL", "..."], ["NONE"] or a string', "test"), undefined;
  } else if (test === undefined) return skip("without test: it uses the image's HEALTHCHECK, which sv does not read", "test"), undefined;
  else return skip("must be a string or a list", "test"), undefined;
  check.type = "command";
  for (const [key, svKey] of [["interval", "interval"], ["timeout", "timeout"], ["start_period", "start_period"]] as const) {
    if (hc[key] === undefined) continue;
    const ms = parseGoDuration(String(hc[key]));
    if (ms !== undefined) check[svKey] = formatMs(ms);
    else skip(`"${String(hc[key])}" is not a duration`, key);
  }
  if (typeof hc.retries === "number" && hc.retries >= 1) check.retries = hc.retries;
  if (hc.start_interval !== undefined) skip("sv probes at one interval", "start_interval");
  return check;
}
