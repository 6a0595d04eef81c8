// A service definition being built by an importer: sv keys set in any order, written out in the SPEC's order.

/** The order keys are written in: SPEC section 2 (what runs, where, when, how it is checked, restarted, stopped). */
export const KEY_ORDER = [
  "name", "description", "type", "image", "entrypoint", "command", "cwd", "env", "env_file", "user", "group", "instances",
  "port", "ports", "volumes", "pull", "network_mode", "start_timeout", "depends_on", "after", "before", "health_check",
  "restart", "restart_delay", "restart_max_delay", "max_restarts", "start_delay", "notify_delay", "stop_signal",
  "stop_timeout", "limits", "log", "on_failure", "hooks",
] as const;
export type Key = (typeof KEY_ORDER)[number];

export const PROBE_KEY_ORDER = ["type", "url", "expected_status", "host", "port", "command", "expected_exit_code", "interval", "timeout", "retries", "start_period"];

/** Where a service came from, for the header of its file. */
export interface Origin {
  /** The source file as shown to the user. */
  file: string;
  line: number;
  /** `services.api`, `[program:web]` … */
  key: string;
}

export class Draft {
  readonly fields = new Map<Key, unknown>();
  constructor(
    public name: string,
    readonly origin: Origin,
  ) {}

  set(key: Key, value: unknown): void {
    if (value === undefined) this.fields.delete(key);
    else this.fields.set(key, value);
  }

  get(key: Key): unknown {
    return this.fields.get(key);
  }

  /** The definition as an object whose keys are in KEY_ORDER (a health_check's in PROBE_KEY_ORDER). */
  toObject(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of KEY_ORDER) {
      if (!this.fields.has(key)) continue;
      const value = this.fields.get(key);
      out[key] = key === "health_check" ? ordered(value as Record<string, unknown>, PROBE_KEY_ORDER) : value;
    }
    return out;
  }
}

function ordered(obj: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (obj[k] !== undefined) out[k] = obj[k];
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

/** A service others wait for to complete (exit 0) runs to completion: type oneshot, once, not restarted always. */
export function makeOneshot(draft: Draft, note: (why: string) => void): void {
  if (draft.get("type") === "on-demand") note("another service waits for it to complete, so it is oneshot, not on-demand");
  draft.set("type", "oneshot");
  if (draft.get("restart") === "always") {
    draft.set("restart", "on-failure");
    note("a oneshot service cannot restart always: restart: on-failure");
  }
  if (draft.get("instances") !== undefined) {
    draft.set("instances", undefined);
    note("a oneshot service that others wait for runs once: instances left out");
  }
}
