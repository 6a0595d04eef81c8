// The service state machine: one table, and the only function that changes a state.
export const STATES = ["stopped", "starting", "running", "stopping", "completed", "error"] as const;
export type State = (typeof STATES)[number];
export const HEALTHS = ["healthy", "unhealthy", "unknown"] as const;
export type Health = (typeof HEALTHS)[number];
export type Wanted = "up" | "down";

export const TRANSITIONS: Record<State, readonly State[]> = {
  stopped: ["starting"],
  starting: ["running", "completed", "error", "stopping"],
  running: ["stopping", "starting", "completed", "error"],
  stopping: ["stopped", "error"],
  completed: ["starting", "stopped"],
  error: ["starting", "stopped"],
};

/** One line of events.jsonl. */
export interface SvEvent {
  ts: string;
  service: string;
  from: State;
  to: State;
  reason: string;
  pid: number | null;
}

/** The part of a unit's record the state machine owns. */
export interface Transitionable {
  state: State;
  since: string | null;
  pid: number | null;
}

export function canTransition(from: State, to: State): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Move `unit` to `to`, returning the event to record. An illegal move is a bug, so it throws. */
export function transition(name: string, unit: Transitionable, to: State, reason: string, now = new Date()): SvEvent {
  const from = unit.state;
  if (!canTransition(from, to)) throw new Error(`bug: illegal transition ${name}: ${from} -> ${to} (${reason})`);
  unit.state = to;
  unit.since = now.toISOString();
  return { ts: unit.since, service: name, from, to, reason, pid: unit.pid };
}

/** A decision that changes no state (health changed, restart scheduled): recorded as from === to. */
export function note(name: string, unit: Transitionable, reason: string, now = new Date()): SvEvent {
  return { ts: now.toISOString(), service: name, from: unit.state, to: unit.state, reason, pid: unit.pid };
}
