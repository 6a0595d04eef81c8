// The status of units as users see it: the rows of `sv status` and its JSON document.
import type { Project } from "../config/schema.ts";
import type { StoreState } from "../store/store.ts";
import { serviceOf, unitNames } from "./units.ts";

/** One entry of `sv status --json` (SPEC section 5). */
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
}

/** Status of `services` (default all) from the store, in definition order. */
export function unitStatuses(project: Project, state: StoreState, services?: string[], now = Date.now()): UnitStatus[] {
  const names = services ?? [...project.services.keys()];
  return names.flatMap((name) =>
    unitNames(project.services.get(name)!, state).map((unitName): UnitStatus => {
      const svc = project.services.get(serviceOf(unitName))!;
      const u = state.units[unitName];
      const up = u?.state === "running" || u?.state === "starting" || u?.state === "stopping";
      return {
        name: unitName,
        type: svc.type,
        state: u?.state ?? "stopped",
        wanted: u?.wanted ?? "down",
        health: u?.health ?? "unknown",
        pid: up ? (u?.pid ?? null) : null,
        port: svc.port ?? null,
        since: u?.since ?? null,
        uptime_s: up && u?.started_at ? Math.max(0, (now - Date.parse(u.started_at)) / 1000) : null,
        restarts: u?.restarts ?? 0,
        exit_code: u?.exit_code ?? null,
        last_error: u?.last_error ?? null,
      };
    }),
  );
}
