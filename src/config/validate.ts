// Cross-service rules: unknown references, self references, cycles, conditions that cannot hold, probes without a target.
import { didYouMean } from "../errors.ts";
import { findCycle } from "../engine/graph.ts";
import { orderingEdges } from "./project.ts";
import type { Problem, Seg } from "./problems.ts";
import type { RawService, Service } from "./schema.ts";

const REF_KEYS = ["depends_on", "after", "before"] as const;
type RefKey = (typeof REF_KEYS)[number];
const SELF: Record<RefKey, string> = {
  depends_on: "a service cannot depend on itself",
  after: "a service cannot be ordered after itself",
  before: "a service cannot be ordered before itself",
};

/**
 * Every cross-service problem of `services` (the valid ones). `defined` holds every name that has a definition, valid
 * or not, so a reference to a service whose own definition is broken is not also reported as unknown.
 */
export function validateProject(services: Map<string, Service>, raws: Map<string, RawService>, defined: Set<string>): Problem[] {
  const problems: Problem[] = [];
  for (const svc of services.values()) {
    const at = (path: Seg[], message: string, atKey = false) => problems.push({ file: svc.file, path: [...svc.path, ...path], message, atKey });
    for (const key of REF_KEYS) {
      for (const [ref, path, isKey] of references(raws.get(svc.name)!, key)) {
        if (ref === svc.name) at(path, SELF[key], isKey);
        else if (!defined.has(ref)) {
          const guess = didYouMean(ref, defined);
          at(path, `unknown service "${ref}"${guess ? ` (did you mean "${guess}"?)` : ""}`, isKey);
        }
      }
    }
    for (const [dep, condition] of Object.entries(svc.dependsOn)) {
      const target = services.get(dep);
      if (condition === "completed" && target && target.type !== "oneshot") {
        at(["depends_on", dep, "condition"], `condition "completed" needs a oneshot service, and ${dep} is ${target.type}`);
      }
    }
    if (svc.healthCheck.type === "tcp" && svc.healthCheck.port === undefined) at(["health_check"], "a tcp health check needs a port (set port: or health_check.port)");
    if (svc.type === "oneshot" && svc.restart === "always") at(["restart"], 'a oneshot service cannot use restart: always (use "no" or "on-failure")');
  }
  return [...problems, ...cycleProblems(services, raws)];
}

/** The names a definition refers to under `key`, each with the key path where it is written and whether it is a map key. */
function references(raw: RawService, key: RefKey): [string, Seg[], boolean][] {
  const value = raw[key];
  if (Array.isArray(value)) return value.map((ref, i) => [ref, [key, i], false]);
  return Object.keys(value).map((ref) => [ref, [key, ref], true]);
}

/** One problem per dependency cycle, at the edge that starts it; cycles sharing a service are reported once. */
function cycleProblems(services: Map<string, Service>, raws: Map<string, RawService>): Problem[] {
  const edges = orderingEdges(services);
  for (const [name, deps] of edges) deps.delete(name); // self references are reported on their own
  const problems: Problem[] = [];
  for (let cycle = findCycle(edges); cycle; cycle = findCycle(edges)) {
    problems.push({ ...edgeOrigin(services, raws, cycle[0]!, cycle[1]!), message: `dependency cycle: ${cycle.join(" -> ")}` });
    for (const name of cycle) edges.delete(name);
  }
  return problems;
}

/** Where the ordering edge `from -> to` is written: from's depends_on or after, or to's before. */
function edgeOrigin(services: Map<string, Service>, raws: Map<string, RawService>, from: string, to: string): Omit<Problem, "message"> {
  for (const [owner, key, ref] of [[from, "depends_on", to], [from, "after", to], [to, "before", from]] as const) {
    const found = references(raws.get(owner)!, key).find(([name]) => name === ref);
    if (found) return { file: services.get(owner)!.file, path: [...services.get(owner)!.path, ...found[1]], atKey: found[2] };
  }
  return { file: services.get(from)!.file, path: services.get(from)!.path };
}
