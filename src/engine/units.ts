// Units: the processes of a service (one, or `name.0` … with instances), and the environment each gets.
import { instancePort } from "../config/ports.ts";
import type { Service } from "../config/schema.ts";
import type { Ctx } from "./context.ts";

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

/** The environment-variable prefix of a dependency's address: `db-main` -> DB_MAIN. */
export const envName = (name: string) => name.toUpperCase().replace(/-/g, "_");

/** The address variables (DB_HOST, DB_PORT, DB_ADDR) of a dependency at `host:port`. */
export function addressVars(dep: string, host: string, port: number): Record<string, string> {
  const n = envName(dep);
  return { [`${n}_HOST`]: host, [`${n}_PORT`]: String(port), [`${n}_ADDR`]: `${host}:${port}` };
}

/** The port unit `instance` of `svc` serves (port + instance; every multi-shot run: the port), if it has one. */
export function instancePortOf(svc: Service, instance: number): number | undefined {
  return instancePort(svc, svc.type === "multi-shot" ? 0 : instance);
}

/** Addresses of dependencies (DB_HOST, DB_PORT, DB_ADDR), as reachable from where the dependent `from` runs (no `from`: from sv). */
export function addressEnv(ctx: Ctx, names: Iterable<string>, from?: Service): Record<string, string> {
  const env: Record<string, string> = {};
  for (const dep of names) {
    const svc = ctx.project.services.get(dep);
    if (svc?.port === undefined) continue;
    const at = ctx.backends.for(svc).address(svc, 0, from);
    Object.assign(env, addressVars(dep, at.host, at.port ?? svc.port));
  }
  return env;
}

/** The variables sv adds for one unit, on top of the service's own env. */
export function unitEnv(ctx: Ctx, svc: Service, instance: number): Record<string, string> {
  const env = addressEnv(ctx, Object.keys(svc.dependsOn), svc);
  const port = instancePortOf(svc, instance);
  if (port !== undefined) env.PORT = String(port);
  env.SV_SERVICE = svc.name;
  env.SV_INSTANCE = String(instance);
  return env;
}
