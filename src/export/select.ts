// Which services an export covers, and the facts every target needs about them: how each is run, which
// condition each dependency must meet, its instances and its ports.
import { UsageError, didYouMean } from "../errors.ts";
import { dependencyOrder, withDependencies } from "../config/project.ts";
import type { Condition, Project, Service } from "../config/schema.ts";
import { instancePortOf } from "../engine/units.ts";

/** The named services (default: all) and everything they depend on, dependencies first; which were pulled in. */
export function selectServices(project: Project, names: string[]): { order: string[]; pulledIn: Set<string> } {
  for (const name of names) {
    if (!project.services.has(name)) {
      const guess = didYouMean(name, project.services.keys());
      throw new UsageError(`unknown service "${name}"`, guess ? `did you mean "${guess}"?` : "run `sv list` to see the services");
    }
  }
  const wanted = names.length ? new Set(names) : new Set(project.services.keys());
  const all = withDependencies(project, wanted);
  const pulledIn = new Set([...all].filter((n) => !wanted.has(n)));
  return { order: dependencyOrder(project, all), pulledIn };
}

/** How a service runs: a local process, a container of an image, or something on another machine. */
export type Kind = "process" | "image" | "remote";

export function kindOf(svc: Service): Kind {
  return svc.remote ? "remote" : svc.container ? "image" : "process";
}

/** The condition sv waits for before starting a dependent: as written, else completed for a oneshot and healthy otherwise. */
export function conditionOf(project: Project, dep: string, written: Condition | undefined): Condition {
  return written ?? (project.services.get(dep)?.type === "oneshot" ? "completed" : "healthy");
}

/** The dependencies of a service with the condition each must meet, in the order written. */
export function dependencies(project: Project, svc: Service): { name: string; condition: Condition }[] {
  return Object.entries(svc.dependsOn).map(([name, c]) => ({ name, condition: conditionOf(project, name, c) }));
}

/** The services that depend on `name`. */
export function dependentsOf(project: Project, names: string[], name: string): string[] {
  return names.filter((n) => Object.hasOwn(project.services.get(n)!.dependsOn, name));
}

/** The variables sv gives instance `instance` of a service on top of its env: PORT, SV_SERVICE, SV_INSTANCE. */
export function ownVars(svc: Service, instance: number): Record<string, string> {
  const vars: Record<string, string> = {};
  const port = instancePortOf(svc, instance);
  if (port !== undefined) vars.PORT = String(port);
  vars.SV_SERVICE = svc.name;
  vars.SV_INSTANCE = String(instance);
  return vars;
}

/** A duration as systemd and compose (Go) both read it: `10s`, `1500ms`. */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
