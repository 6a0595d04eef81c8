// Caps on what API clients may hold open at once, per token and in all; past a cap the answer is 503 with Retry-After.
import type { Token } from "./auth.ts";

/**
 * Event streams (`GET /v1/events`): 8 per token is more dashboards than one client needs, and 64 in all
 * bounds the heartbeats and queued events a watch keeps (they share one follower, so not its fds).
 */
export const STREAM_LIMITS = { perToken: 8, total: 64 };
/**
 * Other requests in flight: a read answers in milliseconds, so only operations (queued one at a time
 * behind the watch loop) pile up; 16 per token and 128 in all keep a flood of POSTs from queueing forever.
 */
export const REQUEST_LIMITS = { perToken: 16, total: 128 };
/** Seconds a refused client is told to wait (the Retry-After header). */
export const RETRY_AFTER_S = 5;

export interface Limiter {
  /** Take a slot for `token`; a release function, or the cap that was hit. */
  acquire(token: Token): (() => void) | "per token" | "in all";
  readonly size: number;
}

/** Counts held slots per token and in all. */
export function limiter(limits: { perToken: number; total: number }): Limiter {
  const held = new Map<Token, number>();
  let size = 0;
  return {
    get size() {
      return size;
    },
    acquire(token) {
      const mine = held.get(token) ?? 0;
      if (mine >= limits.perToken) return "per token";
      if (size >= limits.total) return "in all";
      held.set(token, mine + 1);
      size++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        size--;
        const left = (held.get(token) ?? 1) - 1;
        if (left === 0) held.delete(token);
        else held.set(token, left);
      };
    },
  };
}
