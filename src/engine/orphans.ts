// Orphans: units the store recorded whose service is gone from the config (or the config cannot be
// loaded). They are shown, stopped by `sv down`, and warned about by `sv up`; never restarted.
import type { StoreState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { serviceOf } from "./units.ts";

export interface Orphan {
  service: string;
  units: string[];
  /** Some unit of it is recorded as running, starting or stopping. */
  live: boolean;
}

const LIVE = ["running", "starting", "stopping", "restarting"];

/** Services recorded in the store but not defined, with their units, by name. */
export function orphanServices(ctx: Ctx, state: StoreState): Orphan[] {
  const byService = new Map<string, Orphan>();
  for (const [unit, record] of Object.entries(state.units)) {
    const service = serviceOf(unit);
    if (ctx.project.services.has(service)) continue;
    const o = byService.get(service) ?? { service, units: [], live: false };
    o.units.push(unit);
    o.live ||= LIVE.includes(record.state) && record.handle !== null;
    byService.set(service, o);
  }
  return [...byService.values()].sort((a, b) => a.service.localeCompare(b.service));
}

/** Is `service` an orphan in `state`? */
export function isOrphan(ctx: Ctx, state: StoreState, service: string): boolean {
  return !ctx.project.services.has(service) && Object.keys(state.units).some((u) => serviceOf(u) === service);
}

/** The units of an orphan service in `state`. */
export function orphanUnits(state: StoreState, service: string): string[] {
  return Object.keys(state.units)
    .filter((u) => serviceOf(u) === service)
    .sort();
}
