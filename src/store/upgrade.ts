// Reading stores written by earlier releases: each version's records upgraded to the current one.
import type { Handle } from "./unit.ts";

/** The store format sv writes. */
export const STORE_VERSION = 2;

/**
 * Version 1 (sv 0.1) kept a unit's process as bare `pid` + `start_ticks`, with no relay (so its exit status
 * is never known) and no spec. Version 2 keeps a backend-tagged `handle`. The process stays recognised
 * (same pid and start time) and stoppable (its group is its pid).
 */
export function upgradeUnitV1(raw: Record<string, unknown>): Record<string, unknown> {
  const { pid, start_ticks, ...rest } = raw;
  let handle: Handle | null = null;
  if (typeof pid === "number" && typeof start_ticks === "number") handle = { kind: "process", pid, pgid: pid, ticks: start_ticks, relay: false };
  // sv 0.1 kept a crashed unit waiting out its backoff in `error`: that is `restarting` now (error means given up).
  const waiting = rest.state === "error" && typeof rest.next_restart_at === "string" && rest.gave_up_at == null;
  return { ...rest, ...(waiting ? { state: "restarting" } : {}), handle, spec: null };
}
