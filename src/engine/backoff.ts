// Restart backoff: exponential from restart_delay, capped at restart_max_delay. Pure.

/** A service that stays up this long after a restart has its failure count reset. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

/**
 * Delay before the restart after `failures` consecutive failures. The first one (a service that had
 * been up and crashed, or a first start that failed) restarts at once: a one-off crash should heal in
 * milliseconds. A failure right after a restart is a consecutive one and backs off: restart_delay, then
 * doubling (× 2^(failures-2)), capped.
 */
export function restartDelayMs(failures: number, firstMs: number, maxMs: number): number {
  if (failures <= 1) return 0;
  return Math.min(firstMs * 2 ** Math.min(failures - 2, 40), maxMs);
}

/** Has a unit that started at `startedAt` been up long enough to forget its past failures? */
export function isStable(startedAt: string | null, now: number, resetAfterMs = BACKOFF_RESET_AFTER_MS): boolean {
  return startedAt !== null && now - Date.parse(startedAt) >= resetAfterMs;
}
