// Units: the processes of a service (one, or `name.0` … with instances), and the environment each gets.
import type { Project, Service } from "../config/schema.ts";

/**
 * The unit names of a service: `api`, or `api.0`, `api.1` … when it has several instances. A multi-shot
 * service has one unit per run (`job.1`, `job.2` …), found in the store `state` when it is given.
 */
export function unitNames(svc: Service, state?: { units: Record<string, unknown> }): string[] {
  if (svc.type === "multi-shot") {
    const prefix = `${svc.name}.`;
    return Object.keys(state?.units ?? {})
      .filter((u) => u.startsWith(prefix) && /^\d+$/.test(u.slice(prefix.length)))
      .sort((a, b) => instanceOf(a) - instanceOf(b));
  }
  return svc.instances === 1 ? [svc.name] : Array.from({ length: svc.instances }, (_, i) => `${svc.name}.${i}`);
}

/** The unit name of a new run of a multi-shot service: one past the highest recorded. */
export function nextRunName(svc: Service, state: { units: Record<string, unknown> }): string {
  const runs = unitNames(svc, state);
  return `${svc.name}.${runs.length === 0 ? 1 : instanceOf(runs[runs.length - 1]!) + 1}`;
}

/** The instance number of a unit name (0 for a single-instance service). */
export function instanceOf(unit: string): number {
  const dot = unit.lastIndexOf(".");
  return dot === -1 ? 0 : Number(unit.slice(dot + 1));
}

/** The service a unit belongs to. */
export function serviceOf(unit: string): string {
  const dot = unit.lastIndexOf(".");
  return dot === -1 ? unit : unit.slice(0, dot);
}

const envName = (name: string) => name.toUpperCase().replace(/-/g, "_");

/** Addresses of dependencies (DB_HOST, DB_PORT, DB_ADDR) and PORT for a service's own port. */
export function addressEnv(project: Project, names: Iterable<string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const dep of names) {
    const port = project.services.get(dep)?.port;
    if (port === undefined) continue;
    const host = "127.0.0.1";
    env[`${envName(dep)}_HOST`] = host;
    env[`${envName(dep)}_PORT`] = String(port);
    env[`${envName(dep)}_ADDR`] = `${host}:${port}`;
  }
  return env;
}

/** The variables sv adds for one unit, on top of the service's own env. */
export function unitEnv(project: Project, svc: Service, instance: number): Record<string, string> {
  const env = addressEnv(project, Object.keys(svc.dependsOn));
  if (svc.port !== undefined) env.PORT = String(svc.port);
  env.SV_SERVICE = svc.name;
  env.SV_INSTANCE = String(instance);
  return env;
}
