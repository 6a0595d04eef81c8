// A unit's effective definition: what it was started with (kept in the store as its spec) and a hash of
// what changes the running unit, so `sv up` recreates units whose definition changed.
import type { Service } from "../config/schema.ts";
import type { UnitSpec } from "../store/unit.ts";
import type { Ctx } from "./context.ts";
import { instanceOf, instancePortOf, unitEnv } from "./units.ts";

/** The fields that change what runs; not description, probes, restart policy or hooks. */
function effective(ctx: Ctx, svc: Service, unit: string): unknown {
  const instance = instanceOf(unit);
  return {
    type: svc.type,
    command: svc.command,
    cwd: svc.cwd,
    env: sorted({ ...svc.env, ...unitEnv(ctx, svc, instance) }),
    user: svc.user ?? null,
    group: svc.group ?? null,
    limits: sorted(svc.limits as Record<string, unknown>),
    port: instancePortOf(svc, instance) ?? null,
    backend: ctx.backends.for(svc).kind,
    // Only containers have it, so the hashes of processes stay what earlier versions recorded.
    ...(svc.container ? { container: svc.container } : {}),
    // A remote service's host, and a package's tarball (its sha256): a new package is a new definition.
    ...(svc.remote ? { host: svc.remote.host, package: svc.remote.package ? { sha256: svc.remote.package.sha256, install: svc.remote.package.installPath } : null } : {}),
  };
}

function sorted<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The hash of a unit's effective definition (16 hex digits). */
export function definitionHash(ctx: Ctx, svc: Service, unit: string): string {
  return Bun.hash(JSON.stringify(effective(ctx, svc, unit))).toString(16).padStart(16, "0");
}

/** The spec recorded when a unit starts. */
export function unitSpec(ctx: Ctx, svc: Service, unit: string): UnitSpec {
  return {
    hash: definitionHash(ctx, svc, unit),
    type: svc.type,
    backend: ctx.backends.for(svc).kind,
    stop_signal: svc.stopSignal,
    stop_timeout_ms: svc.stopTimeoutMs,
    port: instancePortOf(svc, instanceOf(unit)) ?? null,
  };
}

/** Has the definition of a recorded unit changed since it started? (Unknown for units of sv 0.1: no.) */
export function isChanged(ctx: Ctx, svc: Service, unit: string, spec: UnitSpec | null): boolean {
  return spec !== null && spec.hash !== definitionHash(ctx, svc, unit);
}
