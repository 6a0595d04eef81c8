// Restart backoff: exponential from restart_delay, capped at restart_max_delay. Pure.

/** A service that stays up this long after a restart has its failure count reset. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

/** Delay before restart number `failures` (1 = first failure): restart_delay × 2^(failures-1), capped. */
export function restartDelayMs(failures: number, firstMs: number, maxMs: number): number {
  if (failures <= 1) return Math.min(firstMs, maxMs);
  return Math.min(firstMs * 2 ** Math.min(failures - 1, 40), maxMs);
}

/** Has a unit that started at `startedAt` been up long enough to forget its past failures? */
export function isStable(startedAt: string | null, now: number, resetAfterMs = BACKOFF_RESET_AFTER_MS): boolean {
  return startedAt !== null && now - Date.parse(startedAt) >= resetAfterMs;
}
