// Waiting for a dependency from inside a container (Kubernetes initContainers, swarm command wrappers): the
// dependency's own check, aimed at its address as seen from the waiting container.
import type { HealthCheck, Service } from "../config/schema.ts";
import { containerTest, type Endpoint, endpointOf, isLoopback, waitLoop } from "./probes.ts";
import type { Notes } from "./report.ts";

/**
 * A shell loop that ends once `dep` passes its check at `at` (its address from the waiting container), or
 * undefined with a note when none can: a command or process check runs only where the dependency runs, so
 * its port is waited for instead, if it has one.
 */
export function waitForDependency(dep: Service, at: { host: string; port: number } | undefined, notes: Notes): string | undefined {
  let hc: HealthCheck = dep.healthCheck;
  if (hc.type === "command" || hc.type === "process") {
    if (!at) {
      notes.changed(`depends_on.${dep.name}`, `${dep.name} has a ${hc.type} check, which cannot run from another container, and no port: nothing waits for it to be ready`);
      return undefined;
    }
    if (hc.type === "command") notes.changed(`depends_on.${dep.name}`, `waits for ${dep.name}'s port ${at.port} to accept (its command check runs only where it runs)`);
    hc = { ...hc, type: "tcp", host: "127.0.0.1", port: dep.port };
  }
  const e = endpointOf(hc);
  if (!e) return undefined;
  const local = isLoopback(e.host) || e.host === dep.name;
  const target: Endpoint = local && at ? { ...e, host: at.host, port: e.port === dep.port ? at.port : e.port } : e;
  const test = containerTest(hc, target);
  if (typeof test !== "string") {
    notes.unmapped(`depends_on.${dep.name}`, `${test.why}: nothing waits for ${dep.name}`);
    return undefined;
  }
  return waitLoop(test, hc.intervalMs);
}
