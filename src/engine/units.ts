// Units: the processes of a service (one, or `name.0` … with instances), and the environment each gets.
import type { Project, Service } from "../config/schema.ts";

/** The unit names of a service: `api`, or `api.0`, `api.1` … when it has several instances. */
export function unitNames(svc: Service): string[] {
  return svc.instances === 1 ? [svc.name] : Array.from({ length: svc.instances }, (_, i) => `${svc.name}.${i}`);
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
