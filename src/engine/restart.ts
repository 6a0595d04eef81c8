// `sv restart`: down then up. Dependents that were wanted up are stopped with it and started again.
import { resolveNames, withDependents } from "../config/project.ts";
import { readState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import type { Outcome } from "./orchestrate.ts";
import { startServices } from "./start.ts";
import { stopServices } from "./stop.ts";
import { unitNames } from "./units.ts";

/** Restart `names` (default: every service wanted up); outcomes are those of the start. */
export async function restartServices(ctx: Ctx, names: string[]): Promise<Map<string, Outcome>> {
  const state = readState(ctx.paths);
  const wantedUp = (n: string) => unitNames(ctx.project.services.get(n)!).some((u) => state.units[u]?.wanted === "up");
  const requested = names.length > 0 ? resolveNames(ctx.project, names) : [...ctx.project.services.keys()].filter(wantedUp);
  if (requested.length === 0) return new Map();
  const again = [...withDependents(ctx.project, requested)].filter((n) => requested.includes(n) || wantedUp(n));
  const stopped = await stopServices(ctx, requested);
  const failedStop = [...stopped].filter(([, o]) => !o.ok);
  if (failedStop.length > 0) return new Map(failedStop);
  return startServices(ctx, again);
}
