// The state machine: every move in SPEC section 5 works and records an event; every other move throws.
import { describe, expect, test } from "bun:test";
import { canTransition, note, STATES, type State, transition, TRANSITIONS } from "../../src/engine/states.ts";

// SPEC section 5, copied by hand so a change to the table has to change this too.
const ALLOWED: [State, State][] = [
  ["stopped", "starting"],
  ["starting", "running"],
  ["starting", "completed"],
  ["starting", "error"],
  ["starting", "stopping"],
  ["running", "stopping"],
  ["running", "starting"],
  ["running", "completed"],
  ["running", "error"],
  ["stopping", "stopped"],
  ["stopping", "error"],
  ["completed", "starting"],
  ["completed", "stopped"],
  ["error", "starting"],
  ["error", "stopped"],
];
const isAllowed = (from: State, to: State) => ALLOWED.some(([f, t]) => f === from && t === to);
const ALL_PAIRS = STATES.flatMap((from) => STATES.map((to) => [from, to] as [State, State]));
const NOW = new Date("2026-01-02T03:04:05.678Z");

test("the table is exactly the SPEC's", () => {
  expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATES].sort());
  const table = STATES.flatMap((from) => TRANSITIONS[from].map((to) => `${from} -> ${to}`)).sort();
  expect(table).toEqual(ALLOWED.map(([f, t]) => `${f} -> ${t}`).sort());
});

describe("allowed moves change the state and return the event", () => {
  test.each(ALLOWED)("%s -> %s", (from, to) => {
    const unit: { state: State; since: string | null; pid: number } = { state: from, since: null, pid: 42 };
    expect(canTransition(from, to)).toBe(true);
    const event = transition("api", unit, to, "because", NOW);
    expect(event).toEqual({ ts: NOW.toISOString(), service: "api", from, to, reason: "because", pid: 42 });
    expect(unit).toEqual({ state: to, since: NOW.toISOString(), pid: 42 });
  });
});

describe("every other move throws and leaves the unit as it was", () => {
  const forbidden = ALL_PAIRS.filter(([f, t]) => !isAllowed(f, t));
  test("there are 21 of them (36 pairs, 15 allowed)", () => expect(forbidden).toHaveLength(21));
  test.each(forbidden)("%s -> %s", (from, to) => {
    const unit = { state: from, since: "before", pid: 7 };
    expect(canTransition(from, to)).toBe(false);
    expect(() => transition("db", unit, to, "why")).toThrow(`bug: illegal transition db: ${from} -> ${to} (why)`);
    expect(unit).toEqual({ state: from, since: "before", pid: 7 });
  });
});

test("note records a decision without changing the unit", () => {
  const unit = { state: "running" as State, since: "earlier", pid: 9 };
  expect(note("api", unit, "unhealthy: boom", NOW)).toEqual({ ts: NOW.toISOString(), service: "api", from: "running", to: "running", reason: "unhealthy: boom", pid: 9 });
  expect(unit).toEqual({ state: "running", since: "earlier", pid: 9 });
});
