// What the store remembers of one unit (a service, or one instance `name.N`), and the words it uses.
export const STATES = ["stopped", "starting", "running", "stopping", "completed", "restarting", "error"] as const;
export type State = (typeof STATES)[number];
export const HEALTHS = ["healthy", "unhealthy", "unknown"] as const;
export type Health = (typeof HEALTHS)[number];
export type Wanted = "up" | "down";

/** One line of events.jsonl. */
export interface SvEvent {
  ts: string;
  service: string;
  from: State;
  to: State;
  reason: string;
  pid: number | null;
}

/**
 * Where a unit runs, as its backend identifies it: a tagged record (`{ kind: "process", pid, ticks … }`,
 * `{ kind: "container", id }` …). The store keeps it opaque; the backend of its `kind` reads it. A numeric
 * `pid` is the process id users see (status, events); every numeric `pid`/`pgid` must be above 1 (a
 * hand-edited `pid: 1` would be signalled as group -1, which is every process on the machine).
 */
export interface Handle {
  kind: string;
  pid?: number;
  [field: string]: unknown;
}

/**
 * What a unit was started with, kept so that it can be stopped (and shown) after its definition is
 * gone or cannot be loaded, and so that a changed definition is noticed (`hash`).
 */
export interface UnitSpec {
  /** Hash of the effective definition: what changes the running unit (command, env, cwd, user, limits …). */
  hash: string;
  type: string;
  /** The backend kind that runs it. */
  backend: string;
  stop_signal: string;
  stop_timeout_ms: number;
  port: number | null;
}

export interface Unit {
  wanted: Wanted;
  state: State;
  health: Health;
  /** The backend's identity of what runs (null: nothing created, or an intent not yet recorded as created). */
  handle: Handle | null;
  spec: UnitSpec | null;
  since: string | null;
  started_at: string | null;
  restarts: number;
  /** Consecutive failed starts, for the restart backoff. */
  failures: number;
  next_restart_at: string | null;
  /** When the restart policy gave up (max_restarts reached); cleared by the next successful start. */
  gave_up_at: string | null;
  health_failures: number;
  /** When the last counted health-check failure was: failures count at most once per check interval. */
  health_failed_at: string | null;
  exit_code: number | null;
  last_error: string | null;
  start_duration_s: number | null;
  /** The sv process driving a starting/stopping unit; when it is gone, any sv may finish the job. */
  owner_pid: number | null;
  owner_ticks: number | null;
}

export function newUnit(): Unit {
  return {
    wanted: "down",
    state: "stopped",
    health: "unknown",
    handle: null,
    spec: null,
    since: null,
    started_at: null,
    restarts: 0,
    failures: 0,
    next_restart_at: null,
    gave_up_at: null,
    health_failures: 0,
    health_failed_at: null,
    exit_code: null,
    last_error: null,
    start_duration_s: null,
    owner_pid: null,
    owner_ticks: null,
  };
}

/** The process id users see for a unit, if its handle has one. */
export function handlePid(handle: Handle | null | undefined): number | null {
  return typeof handle?.pid === "number" ? handle.pid : null;
}
