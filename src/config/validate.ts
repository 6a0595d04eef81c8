// Cross-service rules: unknown references, cycles, conditions that cannot hold, probes without a target.
import { didYouMean } from "../errors.ts";
import { findCycle } from "../engine/graph.ts";
import { orderingEdges } from "./project.ts";
import type { Problem } from "./load.ts";
import type { Service } from "./schema.ts";

/** Every cross-service problem of `services`. */
export function validateProject(services: Map<string, Service>): Problem[] {
  const problems: Problem[] = [];
  const names = [...services.keys()];
  for (const svc of services.values()) {
    const at = (path: (string | number)[], message: string, atKey = false) => problems.push({ file: svc.file, path: [...svc.path, ...path], message, atKey });
    const refs: [string, string[]][] = [
      ["depends_on", Object.keys(svc.dependsOn)],
      ["after", svc.after],
      ["before", svc.before],
    ];
    for (const [key, list] of refs) {
      list.forEach((ref, i) => {
        const path = key === "depends_on" ? [key, ref] : [key, i];
        if (ref === svc.name) at(path, `${svc.name} cannot refer to itself`);
        else if (!services.has(ref)) {
          const guess = didYouMean(ref, names);
          at(path, `unknown service "${ref}"${guess ? ` (did you mean "${guess}"?)` : ""}`);
        }
      });
    }
    for (const [dep, condition] of Object.entries(svc.dependsOn)) {
      const target = services.get(dep);
      if (condition === "completed" && target && target.type !== "oneshot") {
        at(["depends_on", dep, "condition"], `condition "completed" needs a oneshot service, and ${dep} is ${target.type}`);
      }
    }
    const hc = svc.healthCheck;
    if (hc.type === "tcp" && hc.port === undefined) at(["health_check"], "a tcp health check needs a port (set port: or health_check.port)");
    if (svc.type === "oneshot" && svc.restart === "always") at(["restart"], 'a oneshot service cannot use restart: always (use "no" or "on-failure")');
  }
  if (problems.length > 0) return problems;
  const cycle = findCycle(orderingEdges(services));
  if (cycle) {
    const svc = services.get(cycle[0]!)!;
    problems.push({ file: svc.file, path: svc.path, message: `dependency cycle: ${cycle.join(" -> ")}` });
  }
  return problems;
}
