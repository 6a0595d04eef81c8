// The state machine: every move in SPEC section 5 works and records an event; every other move throws.
import { describe, expect, test } from "bun:test";
import { canTransition, note, STATES, type State, transition, TRANSITIONS } from "../../src/engine/states.ts";
import type { Handle } from "../../src/store/unit.ts";

// SPEC section 5, copied by hand so a change to the table has to change this too.
const ALLOWED: [State, State][] = [
  ["stopped", "starting"],
  ["starting", "running"],
  ["starting", "completed"],
  ["starting", "restarting"],
  ["starting", "error"],
  ["starting", "stopping"],
  ["running", "stopping"],
  ["running", "starting"],
  ["running", "completed"],
  ["running", "restarting"],
  ["running", "error"],
  ["stopping", "stopped"],
  ["stopping", "error"],
  ["completed", "starting"],
  ["completed", "stopped"],
  ["restarting", "starting"],
  ["restarting", "stopped"],
  ["restarting", "error"],
  ["error", "starting"],
  ["error", "stopped"],
];
const isAllowed = (from: State, to: State) => ALLOWED.some(([f, t]) => f === from && t === to);
const ALL_PAIRS = STATES.flatMap((from) => STATES.map((to) => [from, to] as [State, State]));
const NOW = new Date("2026-01-02T03:04:05.678Z");
const handle = (pid: number): Handle => ({ kind: "process", pid, pgid: pid, ticks: 123, relay: true });

test("the states are the SPEC's seven, restarting among them", () => {
  expect([...STATES]).toEqual(["stopped", "starting", "running", "stopping", "completed", "restarting", "error"]);
});

test("the table is exactly the SPEC's", () => {
  expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATES].sort());
  const table = STATES.flatMap((from) => TRANSITIONS[from].map((to) => `${from} -> ${to}`)).sort();
  expect(table).toEqual(ALLOWED.map(([f, t]) => `${f} -> ${t}`).sort());
});

test("only a unit that ended goes to restarting, and a restarting unit never runs without starting first", () => {
  expect(STATES.filter((from) => canTransition(from, "restarting")).sort()).toEqual(["running", "starting"]);
  expect([...TRANSITIONS.restarting].sort()).toEqual(["error", "starting", "stopped"]);
  expect(canTransition("restarting", "running")).toBe(false);
  expect(canTransition("restarting", "restarting")).toBe(false);
});

describe("allowed moves change the state and return the event", () => {
  test.each(ALLOWED)("%s -> %s", (from, to) => {
    const unit = { state: from, since: null as string | null, handle: handle(42) };
    expect(canTransition(from, to)).toBe(true);
    const event = transition("api", unit, to, "because", NOW);
    expect(event).toEqual({ ts: NOW.toISOString(), service: "api", from, to, reason: "because", pid: 42 });
    expect(unit).toEqual({ state: to, since: NOW.toISOString(), handle: handle(42) });
  });
});

test("an event's pid is null when the unit has no handle, or a handle without a pid", () => {
  expect(transition("api", { state: "stopped", since: null, handle: null }, "starting", "up", NOW).pid).toBeNull();
  expect(transition("api", { state: "starting", since: null, handle: { kind: "container", id: "abc" } }, "running", "ready", NOW).pid).toBeNull();
});

describe("every other move throws and leaves the unit as it was", () => {
  const forbidden = ALL_PAIRS.filter(([f, t]) => !isAllowed(f, t));
  test("there are 29 of them (49 pairs, 20 allowed)", () => {
    expect(ALL_PAIRS).toHaveLength(49);
    expect(ALLOWED).toHaveLength(20);
    expect(forbidden).toHaveLength(29);
  });
  test.each(forbidden)("%s -> %s", (from, to) => {
    const unit = { state: from, since: "before", handle: handle(7) };
    expect(canTransition(from, to)).toBe(false);
    expect(() => transition("db", unit, to, "why")).toThrow(`bug: illegal transition db: ${from} -> ${to} (why)`);
    expect(unit).toEqual({ state: from, since: "before", handle: handle(7) });
  });
});

test("note records a decision without changing the unit", () => {
  const unit = { state: "restarting" as State, since: "earlier", handle: handle(9) };
  expect(note("api", unit, "restart in 100 ms", NOW)).toEqual({ ts: NOW.toISOString(), service: "api", from: "restarting", to: "restarting", reason: "restart in 100 ms", pid: 9 });
  expect(unit).toEqual({ state: "restarting", since: "earlier", handle: handle(9) });
});
