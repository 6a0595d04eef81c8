// The status of units as users see it: the rows of `sv status` and its JSON document, orphans included.
import type { StoreState, Unit } from "../store/store.ts";
import { handlePid } from "../store/unit.ts";
import type { Ctx } from "./context.ts";
import { isChanged } from "./definition.ts";
import { orphanServices } from "./orphans.ts";
import { instanceOf, instancePortOf, serviceOf, unitNames } from "./units.ts";

/** One entry of `sv status --json` (SPEC section 5); the optional fields appear only where they apply. */
export interface UnitStatus {
  name: string;
  type: string;
  state: string;
  wanted: string;
  health: string;
  pid: number | null;
  port: number | null;
  since: string | null;
  uptime_s: number | null;
  restarts: number;
  exit_code: number | null;
  last_error: string | null;
  /** restarting: when the policy starts it again. */
  next_restart_at?: string;
  /** Running with a definition that changed since it started: `sv up` recreates it. */
  changed?: true;
  /** Its service is gone from the config (or the config cannot be loaded). */
  orphan?: true;
  /** A container's image, and the container's name in the engine. */
  image?: string;
  container?: string;
  /** The host a remote service runs on, and a package service's deployed release. */
  host?: string;
  version?: string;
}

const LIVE = ["running", "starting", "stopping"];

function row(name: string, type: string, u: Unit | undefined, port: number | null, now: number): UnitStatus {
  const up = u !== undefined && LIVE.includes(u.state);
  const status: UnitStatus = {
    name,
    type,
    state: u?.state ?? "stopped",
    wanted: u?.wanted ?? "down",
    health: u?.health ?? "unknown",
    pid: up ? handlePid(u?.handle) : null,
    port,
    since: u?.since ?? null,
    uptime_s: up && u?.started_at ? Math.max(0, (now - Date.parse(u.started_at)) / 1000) : null,
    restarts: u?.restarts ?? 0,
    exit_code: u?.exit_code ?? null,
    last_error: u?.last_error ?? null,
  };
  if (u?.state === "restarting" && u.next_restart_at) status.next_restart_at = u.next_restart_at;
  return status;
}

/** A unit whose backend did not answer this look: its state is not known (the store keeps the last one seen). */
function unknownOr(ctx: Ctx, unit: string, r: UnitStatus): UnitStatus {
  const u = ctx.unknown.get(unit);
  if (!u) return r;
  return { ...r, state: "unknown", health: "unknown", last_error: `${u.where} unreachable since ${u.since}` };
}

/** Status of `services` (default all, then the orphans) from the store, in definition order. */
export function unitStatuses(ctx: Ctx, state: StoreState, services?: string[], now = Date.now()): UnitStatus[] {
  const names = services ?? [...ctx.project.services.keys(), ...orphanServices(ctx, state).map((o) => o.service)];
  return names.flatMap((name) => {
    const svc = ctx.project.services.get(name);
    if (!svc) {
      return orphanServices(ctx, state)
        .filter((o) => o.service === name)
        .flatMap((o) => o.units)
        .map((unitName) => {
          const u = state.units[unitName]!;
          return unknownOr(ctx, unitName, { ...row(unitName, u.spec?.type ?? "unknown", u, u.spec?.port ?? null, now), orphan: true as const });
        });
    }
    return unitNames(svc, state).map((unitName) => {
      const u = state.units[unitName];
      const r = row(unitName, svc.type, u, instancePortOf(ctx.project.services.get(serviceOf(unitName))!, instanceOf(unitName)) ?? null, now);
      if (u?.state === "running" && isChanged(ctx, svc, unitName, u.spec)) r.changed = true;
      if (svc.container) r.image = svc.container.image;
      if (typeof u?.handle?.name === "string" && u.handle.kind === "container") r.container = u.handle.name;
      if (svc.remote) r.host = svc.remote.host;
      if (typeof u?.handle?.release === "string") r.version = u.handle.release;
      return unknownOr(ctx, unitName, r);
    });
  });
}
