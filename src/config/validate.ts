// Cross-service rules: unknown references, self references, cycles, conditions that cannot hold, probes without a target, shared ports.
import { dirname, relative } from "node:path";
import { didYouMean } from "../errors.ts";
import { type Edges, findCycle } from "./graph.ts";
import { MAX_PORT } from "./ports.ts";
import type { Problem, Seg } from "./problems.ts";
import type { Refs, Service } from "./schema.ts";

/** What one definition refers to, as written, and where it is. Broken definitions have one too when their references parse. */
export interface Referrer extends Refs {
  file: string;
  prefix: Seg[];
}

const REF_KEYS = ["depends_on", "after", "before"] as const;
type RefKey = (typeof REF_KEYS)[number];
const SELF: Record<RefKey, string> = {
  depends_on: "a service cannot depend on itself",
  after: "a service cannot be ordered after itself",
  before: "a service cannot be ordered before itself",
};

/**
 * Every cross-service problem. `referrers` covers every definition whose references could be read, valid or not, so a
 * broken service still gets its unknown references reported; `defined` holds every name that has a definition, so a
 * reference to a broken service is not also reported as unknown.
 */
export function validateProject(services: Map<string, Service>, referrers: Map<string, Referrer>, defined: Set<string>): Problem[] {
  const problems: Problem[] = [];
  for (const [name, r] of referrers) {
    for (const key of REF_KEYS) {
      for (const [ref, path, atKey] of references(r, key)) {
        const message = ref === name ? SELF[key] : defined.has(ref) ? undefined : unknownService(ref, defined);
        if (message) problems.push({ file: r.file, path: [...r.prefix, ...path], atKey, message });
      }
    }
  }
  for (const svc of services.values()) problems.push(...serviceProblems(svc, services));
  return [...problems, ...cycleProblems(referrers), ...portProblems(services)];
}

function unknownService(ref: string, defined: Set<string>): string {
  const guess = didYouMean(ref, defined);
  return `unknown service "${ref}"${guess ? ` (did you mean "${guess}"?)` : ""}`;
}

/** Rules about one valid service that need the others: conditions that cannot hold; and probes without a target. */
function serviceProblems(svc: Service, services: Map<string, Service>): Problem[] {
  const problems: Problem[] = [];
  const at = (path: Seg[], message: string) => problems.push({ file: svc.file, path: [...svc.path, ...path], message });
  for (const [dep, condition] of Object.entries(svc.dependsOn)) {
    const target = services.get(dep);
    if (condition === "completed" && target && target.type !== "oneshot") {
      at(["depends_on", dep, "condition"], `condition "completed" needs a oneshot service, and ${dep} is ${target.type}`);
    }
  }
  if (svc.healthCheck.type === "tcp" && svc.healthCheck.port === undefined) at(["health_check"], "a tcp health check needs a port (set port: or health_check.port)");
  if (svc.type === "oneshot" && svc.restart === "always") at(["restart"], 'a oneshot service cannot use restart: always (use "no" or "on-failure")');
  return problems;
}

/**
 * A service's instances serve on port..port+instances-1: the range must end by 65535 and share no port with another
 * service. A shared port is reported once per pair of services, at the later one, naming the first port they share.
 */
function portProblems(services: Map<string, Service>): Problem[] {
  const problems: Problem[] = [];
  const earlier: { svc: Service; first: number; last: number }[] = [];
  for (const svc of services.values()) {
    if (svc.port === undefined) continue;
    const at = (message: string) => problems.push({ file: svc.file, path: [...svc.path, "port"], message });
    const first = svc.port;
    const last = first + svc.instances - 1;
    if (last > MAX_PORT) at(`${svc.instances} instances need ports ${first}-${last}, past ${MAX_PORT} (lower port: or instances:)`);
    for (const other of earlier) {
      const shared = Math.max(first, other.first);
      if (shared > Math.min(last, other.last, MAX_PORT)) continue;
      const owner = `${instanceName(other.svc, shared - other.first)}${fileNote(svc.file, other.svc.file)}`;
      at(`port ${shared} of ${instanceName(svc, shared - first)} is also the port of ${owner}`);
    }
    earlier.push({ svc, first, last });
  }
  return problems;
}

/** An instance as sv names its unit: `api` for a single instance, else `api.0`, `api.1` … */
const instanceName = (svc: Service, instance: number) => (svc.instances === 1 ? svc.name : `${svc.name}.${instance}`);

/** ` (FILE)` naming where another definition is, relative to the directory of the reporting file; nothing when the same file. */
function fileNote(from: string, other: string): string {
  if (other === from) return "";
  return ` (${/^https?:/i.test(other) || /^https?:/i.test(from) ? other : relative(dirname(from), other)})`;
}

/** The names a definition refers to under `key`, each with the key path where it is written and whether it is a map key. */
function references(refs: Refs, key: RefKey): [string, Seg[], boolean][] {
  const value = refs[key];
  if (Array.isArray(value)) return value.map((ref, i) => [ref, [key, i], false]);
  return Object.keys(value).map((ref) => [ref, [key, ref], true]);
}

/** One problem per dependency cycle, at the edge that starts it; cycles sharing a service are reported once. */
function cycleProblems(referrers: Map<string, Referrer>): Problem[] {
  const edges: Edges = new Map([...referrers.keys()].map((n) => [n, new Set<string>()]));
  for (const [name, r] of referrers) {
    for (const [ref] of [...references(r, "depends_on"), ...references(r, "after")]) edges.get(name)!.add(ref);
    for (const [ref] of references(r, "before")) edges.get(ref)?.add(name);
  }
  for (const [name, deps] of edges) deps.delete(name); // self references are reported on their own
  const problems: Problem[] = [];
  for (let cycle = findCycle(edges); cycle; cycle = findCycle(edges)) {
    problems.push({ ...edgeOrigin(referrers, cycle[0]!, cycle[1]!), message: `dependency cycle: ${cycle.join(" -> ")}` });
    for (const name of cycle) edges.delete(name);
  }
  return problems;
}

/** Where the ordering edge `from -> to` is written: from's depends_on or after, or to's before. */
function edgeOrigin(referrers: Map<string, Referrer>, from: string, to: string): Omit<Problem, "message"> {
  for (const [owner, key, ref] of [[from, "depends_on", to], [from, "after", to], [to, "before", from]] as const) {
    const r = referrers.get(owner)!;
    const found = references(r, key).find(([name]) => name === ref);
    if (found) return { file: r.file, path: [...r.prefix, ...found[1]], atKey: found[2] };
  }
  const r = referrers.get(from)!;
  return { file: r.file, path: r.prefix };
}
