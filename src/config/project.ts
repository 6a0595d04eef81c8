// Questions about a loaded Project: name lookup and dependency closures.
import { UsageError, didYouMean } from "../errors.ts";
import { batches, closure } from "./graph.ts";
import type { Project } from "./schema.ts";

/** The services named on the command line; unknown names are a usage error with a suggestion. */
export function resolveNames(project: Project, names: string[]): string[] {
  for (const name of names) {
    if (!project.services.has(name)) {
      const guess = didYouMean(name, project.services.keys());
      throw new UsageError(`unknown service "${name}"`, guess ? `did you mean "${guess}"?` : "run `sv list` to see the services");
    }
  }
  return [...new Set(names)];
}

/** `names` and everything they depend on, transitively. */
export function withDependencies(project: Project, names: Iterable<string>): Set<string> {
  return closure(names, (n) => Object.keys(project.services.get(n)!.dependsOn));
}

/** `names` and everything that depends on them, transitively. */
export function withDependents(project: Project, names: Iterable<string>): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const svc of project.services.values()) {
    for (const d of Object.keys(svc.dependsOn)) dependents.set(d, [...(dependents.get(d) ?? []), svc.name]);
  }
  return closure(names, (n) => dependents.get(n) ?? []);
}

/** `names` sorted so every service comes after its dependencies (display order; runGraph does the real ordering). */
export function dependencyOrder(project: Project, names: Iterable<string>): string[] {
  const edges = new Map([...project.services.values()].map((s) => [s.name, new Set(Object.keys(s.dependsOn))]));
  return batches(names, edges).flat();
}
