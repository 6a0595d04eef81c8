// The service state machine: one table, and the only function that changes a state.
import { handlePid, type Handle, type State, type SvEvent } from "../store/unit.ts";

export { HEALTHS, STATES, type Health, type State, type SvEvent, type Wanted } from "../store/unit.ts";

export const TRANSITIONS: Record<State, readonly State[]> = {
  stopped: ["starting"],
  starting: ["running", "completed", "restarting", "error", "stopping"],
  running: ["stopping", "starting", "completed", "restarting", "error"],
  stopping: ["stopped", "error"],
  completed: ["starting", "stopped"],
  restarting: ["starting", "stopped", "error"],
  error: ["starting", "stopped"],
};

/** The part of a unit's record the state machine owns. */
export interface Transitionable {
  state: State;
  since: string | null;
  handle: Handle | null;
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
  return { ts: unit.since, service: name, from, to, reason, pid: handlePid(unit.handle) };
}

/** A decision that changes no state (health changed, restart scheduled): recorded as from === to. */
export function note(name: string, unit: Transitionable, reason: string, now = new Date()): SvEvent {
  return { ts: now.toISOString(), service: name, from: unit.state, to: unit.state, reason, pid: handlePid(unit.handle) };
}
