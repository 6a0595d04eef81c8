// The planner and the backoff are pure: table-driven tests of every decision, at the end of a unit
// (afterEnd) and on every watchdog pass (planUnit).
import { describe, expect, test } from "bun:test";
import type { Service } from "../../src/config/schema.ts";
import { testService } from "../backends/service.ts";
import { BACKOFF_RESET_AFTER_MS, isStable, restartDelayMs } from "../../src/engine/backoff.ts";
import { recordEnd } from "../../src/engine/ended.ts";
import { afterEnd, planUnit, policyRestarts } from "../../src/engine/plan.ts";
import { newUnit, type Tx, type Unit } from "../../src/store/store.ts";
import type { SvEvent } from "../../src/store/unit.ts";

const NOW = Date.parse("2026-11-22T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const later = (ms: number) => new Date(NOW + ms).toISOString();
const HANDLE = { kind: "process", pid: 4242, pgid: 4242, ticks: 99, relay: true };

/** A service with every key at its default (the backend tests' builder), `over` replacing any. */
function svc(over: Partial<Service> = {}): Service {
  return testService("api", "true", "/", over);
}

function unit(over: Partial<Unit> = {}): Unit {
  return { ...newUnit(), wanted: "up", ...over };
}

describe("restartDelayMs", () => {
  test.each([
    [0, 100, 60_000, 0],
    [1, 100, 60_000, 0],
    [2, 100, 60_000, 100],
    [3, 100, 60_000, 200],
    [4, 100, 60_000, 400],
    [11, 100, 60_000, 51_200],
    [12, 100, 60_000, 60_000],
    [500, 100, 60_000, 60_000],
    [5, 0, 60_000, 0],
    [2, 5000, 1000, 1000],
  ])("failure %i from %i ms capped at %i ms -> %i ms", (failures, first, max, expected) => {
    expect(restartDelayMs(failures, first, max)).toBe(expected);
  });

  test("isStable after the reset window only", () => {
    expect(isStable(ago(BACKOFF_RESET_AFTER_MS), NOW)).toBe(true);
    expect(isStable(ago(BACKOFF_RESET_AFTER_MS - 1), NOW)).toBe(false);
    expect(isStable(null, NOW)).toBe(false);
  });
});

describe("policyRestarts", () => {
  test.each([
    ["simple", "always", true, true],
    ["simple", "always", false, true],
    ["simple", "on-failure", true, false],
    ["simple", "on-failure", false, true],
    ["simple", "no", true, false],
    ["simple", "no", false, false],
    ["oneshot", "always", true, false],
    ["oneshot", "always", false, true],
    ["oneshot", "on-failure", true, false],
    ["oneshot", "on-failure", false, true],
    ["oneshot", "no", false, false],
    ["multi-shot", "always", true, false],
    ["multi-shot", "on-failure", false, true],
    ["multi-shot", "no", false, false],
  ] as const)("%s, restart: %s, clean %p -> %p", (type, restart, clean, expected) => {
    expect(policyRestarts(svc({ type, restart }), clean)).toBe(expected);
  });
});

// `failures` already counts this end when it was one (recordEnd increments it before asking).
describe("afterEnd", () => {
  const cases: [string, Partial<Service> | undefined, Partial<Unit>, boolean, ReturnType<typeof afterEnd>][] = [
    ["first crash after running fine: restart at once", {}, { failures: 1, restarts: 0 }, false, { to: "restarting", at: NOW, reason: "boom" }],
    ["a first start that failed: at once too", {}, { failures: 1, restarts: 4 }, false, { to: "restarting", at: NOW, reason: "boom" }],
    ["second consecutive failure: restart_delay", {}, { failures: 2, restarts: 1 }, false, { to: "restarting", at: NOW + 100, reason: "boom; restart in 100 ms (attempt 2)" }],
    ["third: doubled", {}, { failures: 3, restarts: 2 }, false, { to: "restarting", at: NOW + 200, reason: "boom; restart in 200 ms (attempt 3)" }],
    ["fourth: doubled again", {}, { failures: 4, restarts: 3 }, false, { to: "restarting", at: NOW + 400, reason: "boom; restart in 400 ms (attempt 4)" }],
    ["tenth: 25.6 s", {}, { failures: 10, restarts: 9 }, false, { to: "restarting", at: NOW + 25_600, reason: "boom; restart in 25600 ms (attempt 10)" }],
    [
      "capped at restart_max_delay",
      { maxRestarts: 0, restartMaxDelayMs: 30_000 },
      { failures: 12, restarts: 11 },
      false,
      { to: "restarting", at: NOW + 30_000, reason: "boom; restart in 30000 ms (attempt 12)" },
    ],
    ["restart_delay 0: always at once", { restartDelayMs: 0 }, { failures: 5, restarts: 4 }, false, { to: "restarting", at: NOW, reason: "boom" }],
    ["failures equal to max_restarts: one more restart", { maxRestarts: 3 }, { failures: 3, restarts: 2 }, false, { to: "restarting", at: NOW + 200, reason: "boom; restart in 200 ms (attempt 3)" }],
    ["more failures than max_restarts: give up", { maxRestarts: 3 }, { failures: 4, restarts: 3 }, false, { to: "error", gaveUp: true, reason: "gave up after 3 restarts (max_restarts): boom" }],
    ["default max_restarts 10: gives up at the 11th failure", {}, { failures: 11, restarts: 10 }, false, { to: "error", gaveUp: true, reason: "gave up after 10 restarts (max_restarts): boom" }],
    ["max_restarts 0 never gives up", { maxRestarts: 0 }, { failures: 500, restarts: 499 }, false, { to: "restarting", at: NOW + 60_000, reason: "boom; restart in 60000 ms (attempt 500)" }],
    ["on-failure: a clean exit completes", {}, { failures: 0 }, true, { to: "completed" }],
    ["always: a clean exit waits restart_delay", { restart: "always" }, { failures: 0, restarts: 2 }, true, { to: "restarting", at: NOW + 100, reason: "boom; restart in 100 ms (attempt 3)" }],
    ["always: a clean exit is no failure, it never gives up", { restart: "always", maxRestarts: 1 }, { failures: 0, restarts: 50 }, true, { to: "restarting", at: NOW + 100, reason: "boom; restart in 100 ms (attempt 51)" }],
    ["always, restart_delay 0: a clean exit restarts at once", { restart: "always", restartDelayMs: 0 }, { failures: 0 }, true, { to: "restarting", at: NOW, reason: "boom" }],
    ["always: a crash backs off like on-failure", { restart: "always" }, { failures: 3, restarts: 2 }, false, { to: "restarting", at: NOW + 200, reason: "boom; restart in 200 ms (attempt 3)" }],
    ["restart no: a crash is an error", { restart: "no" }, { failures: 1 }, false, { to: "error" }],
    ["restart no: a clean exit completes", { restart: "no" }, { failures: 0 }, true, { to: "completed" }],
    ["oneshot clean: completed", { type: "oneshot", restart: "no" }, { failures: 0 }, true, { to: "completed" }],
    ["oneshot clean with restart always: completed, not rerun", { type: "oneshot", restart: "always" }, { failures: 0 }, true, { to: "completed" }],
    ["oneshot failure with on-failure: retried", { type: "oneshot", restart: "on-failure" }, { failures: 1 }, false, { to: "restarting", at: NOW, reason: "boom" }],
    ["oneshot failure with restart no: error", { type: "oneshot", restart: "no" }, { failures: 1 }, false, { to: "error" }],
    ["multi-shot clean run: completed", { type: "multi-shot", restart: "on-failure" }, { failures: 0 }, true, { to: "completed" }],
    ["no service (an orphan) that exited cleanly: completed", undefined, { failures: 0 }, true, { to: "completed" }],
    ["no service (an orphan) that crashed: error, never restarted", undefined, { failures: 7 }, false, { to: "error" }],
  ];
  test.each(cases)("%s", (_name, s, u, clean, expected) => {
    expect(afterEnd(s && svc(s), unit(u), clean, "boom", NOW)).toEqual(expected);
  });
});

describe("planUnit", () => {
  const cases: [string, Partial<Service>, Partial<Unit>, ReturnType<typeof planUnit>][] = [
    ["running and healthy: nothing", {}, { state: "running", health: "healthy", handle: HANDLE }, null],
    ["stopped but wanted up: start", {}, { state: "stopped" }, { kind: "start", reason: "wanted up", restart: false }],
    ["wanted down and stopped: nothing", {}, { wanted: "down", state: "stopped" }, null],
    ["wanted down and completed: nothing", {}, { wanted: "down", state: "completed" }, null],
    ["wanted down and in error: nothing", {}, { wanted: "down", state: "error" }, null],
    ["wanted down but running: stop", {}, { wanted: "down", state: "running", handle: HANDLE }, { kind: "stop", reason: "wanted down" }],
    ["wanted down but starting: stop", {}, { wanted: "down", state: "starting", handle: HANDLE }, { kind: "stop", reason: "wanted down" }],
    ["wanted down but restarting: stop (cancel the restart)", {}, { wanted: "down", state: "restarting", next_restart_at: later(5000) }, { kind: "stop", reason: "wanted down" }],
    ["stopping whose sv died: finish the stop", {}, { state: "stopping", handle: HANDLE }, { kind: "stop", reason: "finishing a stop whose sv exited" }],
    ["starting, nothing created, its sv died: resume the start", {}, { state: "starting", handle: null, started_at: ago(1) }, { kind: "start", reason: "resuming a start whose sv exited", restart: false }],
    ["starting, created, adopted, within start_timeout: hands off", {}, { state: "starting", handle: HANDLE, started_at: ago(59_999) }, null],
    [
      "starting, created, adopted, past the default start_timeout: restart",
      {},
      { state: "starting", handle: HANDLE, started_at: ago(60_000) },
      { kind: "restart", reason: "not ready within 60000 ms (start_timeout)" },
    ],
    ["restarting, due: start, counted as a restart", {}, { state: "restarting", failures: 2, next_restart_at: ago(1), last_error: "boom" }, { kind: "start", reason: "restarting: boom", restart: true }],
    ["restarting, due this very ms: start", {}, { state: "restarting", failures: 2, next_restart_at: ago(0), last_error: "boom" }, { kind: "start", reason: "restarting: boom", restart: true }],
    ["restarting, not yet due: nothing", {}, { state: "restarting", failures: 2, next_restart_at: later(50), last_error: "boom" }, null],
    ["restarting after a clean exit (no error): start", { restart: "always" }, { state: "restarting", next_restart_at: ago(1) }, { kind: "start", reason: "restarting: it ended", restart: true }],
    ["restarting without a time: start now", {}, { state: "restarting", next_restart_at: null, last_error: "boom" }, { kind: "start", reason: "restarting: boom", restart: true }],
    ["error (the policy does not restart): stays", {}, { state: "error", failures: 1, last_error: "boom" }, null],
    ["error with restart no: stays", { restart: "no" }, { state: "error", failures: 1 }, null],
    ["gave up: stays in error", {}, { state: "error", failures: 11, gave_up_at: ago(1), since: ago(1) }, null],
    ["gave up, retry_after_error, cap not reached: nothing", { retryAfterError: true }, { state: "error", failures: 11, gave_up_at: ago(59_000), since: ago(59_000) }, null],
    [
      "gave up, retry_after_error, cap reached: start",
      { retryAfterError: true },
      { state: "error", failures: 11, gave_up_at: ago(60_000), since: ago(60_000) },
      { kind: "start", reason: "retry_after_error: retrying 60 s after giving up", restart: true },
    ],
    [
      "gave up, retry_after_error, a failed retry since: waits the cap from that failure",
      { retryAfterError: true },
      { state: "error", failures: 12, gave_up_at: ago(120_000), since: ago(30_000) },
      null,
    ],
    ["error without giving up, retry_after_error: stays (only a give-up is retried)", { retryAfterError: true }, { state: "error", failures: 1, since: ago(600_000) }, null],
    ["completed: done", {}, { state: "completed" }, null],
    ["completed with restart always: done (a clean end that restarts is restarting, not completed)", { restart: "always" }, { state: "completed" }, null],
    ["oneshot completed: done", { type: "oneshot", restart: "no" }, { state: "completed" }, null],
    ["unhealthy: restart", {}, { state: "running", health: "unhealthy", handle: HANDLE, last_error: "health check failed: 500" }, { kind: "restart", reason: "unhealthy: health check failed: 500" }],
    ["unhealthy without a message: restart", {}, { state: "running", health: "unhealthy", handle: HANDLE }, { kind: "restart", reason: "unhealthy: health check failed" }],
    ["unhealthy with restart no: left alone", { restart: "no" }, { state: "running", health: "unhealthy", handle: HANDLE }, null],
    ["up long enough after failures: reset the backoff", {}, { state: "running", health: "healthy", failures: 3, started_at: ago(BACKOFF_RESET_AFTER_MS) }, { kind: "reset-backoff", reason: "stayed up; backoff reset" }],
    ["up briefly after failures: keep counting", {}, { state: "running", health: "healthy", failures: 3, started_at: ago(1000) }, null],
    ["up long enough, no failures: nothing to reset", {}, { state: "running", health: "healthy", failures: 0, started_at: ago(BACKOFF_RESET_AFTER_MS) }, null],
  ];
  test.each(cases)("%s", (_name, s, u, expected) => {
    expect(planUnit(svc(s), unit(u), NOW, false)).toEqual(expected);
  });

  test.each([
    [5000, ago(4999), null],
    [5000, ago(5000), { kind: "restart", reason: "not ready within 5000 ms (start_timeout)" }],
    [120_000, ago(60_000), null],
  ] as const)("an adopted start with start_timeout %i ms, started %s", (startTimeoutMs, startedAt, expected) => {
    expect(planUnit(svc(), unit({ state: "starting", handle: HANDLE, started_at: startedAt }), NOW, false, { startTimeoutMs })).toEqual(expected);
  });

  test("a unit another live sv is driving is never touched", () => {
    expect(planUnit(svc(), unit({ state: "restarting", next_restart_at: ago(1) }), NOW, true)).toBeNull();
    expect(planUnit(svc(), unit({ state: "starting", handle: null }), NOW, true)).toBeNull();
    expect(planUnit(svc(), unit({ state: "starting", handle: HANDLE, started_at: ago(600_000) }), NOW, true)).toBeNull();
    expect(planUnit(svc(), unit({ wanted: "down", state: "running" }), NOW, true)).toBeNull();
    expect(planUnit(svc(), unit({ state: "stopping" }), NOW, true)).toBeNull();
  });
});

// recordEnd (the one writer of an end) and planUnit together over a crash loop: the delays the user sees.
describe("a crash loop, end by end", () => {
  function tx(u: Unit): Tx & { events: SvEvent[] } {
    const state = { version: 2 as const, units: { api: u } };
    return { state, events: [], unit: (name) => state.units[name as "api"]! };
  }

  test("at once, then restart_delay doubling, then given up after max_restarts", () => {
    const s = svc({ maxRestarts: 4, restartDelayMs: 100 });
    const u = unit({ state: "running", handle: HANDLE, started_at: ago(60_000) });
    const delays: (number | string)[] = [];
    for (let end = 1; end <= 5; end++) {
      const t = tx(u);
      recordEnd(t, s, "api", { clean: false, reason: "api exited with code 1", exitCode: 1 }, new Date(NOW));
      if (u.state === "error") {
        delays.push(u.last_error ?? "");
        expect(t.events.at(-1)?.reason).toBe("gave up after 4 restarts (max_restarts): api exited with code 1");
        expect(u.gave_up_at).toBe(new Date(NOW).toISOString());
        expect(u.next_restart_at).toBeNull();
        break;
      }
      expect(u.state).toBe("restarting");
      expect(u.exit_code).toBe(1);
      const at = Date.parse(u.next_restart_at!);
      delays.push(at - NOW);
      // Not due a millisecond early; due on time, as a policy restart.
      if (at > NOW) expect(planUnit(s, u, at - 1, false)).toBeNull();
      expect(planUnit(s, u, at, false)).toEqual({ kind: "start", reason: "restarting: api exited with code 1", restart: true });
      // What the start does (claimStart): counts the restart, comes up, and crashes again.
      u.restarts += 1;
      u.state = "running";
      u.next_restart_at = null;
    }
    expect(delays).toEqual([0, 100, 200, 400, "api exited with code 1"]);
    expect(u.failures).toBe(5);
    expect(u.restarts).toBe(4);
    expect(planUnit(s, u, NOW + 3_600_000, false)).toBeNull();
  });

  test("the events of an end: running -> restarting with the delay in the reason", () => {
    const u = unit({ state: "running", handle: HANDLE, failures: 1, restarts: 1 });
    const t = tx(u);
    recordEnd(t, svc(), "api", { clean: false, reason: "api exited with code 2", exitCode: 2 }, new Date(NOW));
    expect(t.events).toEqual([{ ts: new Date(NOW).toISOString(), service: "api", from: "running", to: "restarting", reason: "api exited with code 2; restart in 100 ms (attempt 2)", pid: 4242 }]);
    expect(u).toMatchObject({ state: "restarting", failures: 2, last_error: "api exited with code 2", next_restart_at: later(100), health: "unknown" });
  });

  test("a clean exit with restart: always resets the failures and waits restart_delay", () => {
    const u = unit({ state: "running", handle: HANDLE, failures: 3, restarts: 3, last_error: "old" });
    const t = tx(u);
    recordEnd(t, svc({ restart: "always" }), "api", { clean: true, reason: "api exited with code 0", exitCode: 0 }, new Date(NOW));
    expect(u).toMatchObject({ state: "restarting", failures: 0, last_error: null, next_restart_at: later(100) });
    expect(t.events.map((e) => `${e.from} -> ${e.to}: ${e.reason}`)).toEqual(["running -> restarting: api exited with code 0; restart in 100 ms (attempt 4)"]);
  });

  test("a start that failed before anything ran passes through starting", () => {
    const u = unit({ state: "restarting", failures: 1, next_restart_at: ago(1) });
    const t = tx(u);
    recordEnd(t, svc({ restart: "no" }), "api", { clean: false, reason: "pre_start failed" }, new Date(NOW));
    expect(t.events.map((e) => `${e.from} -> ${e.to}`)).toEqual(["restarting -> starting", "starting -> error"]);
    expect(u).toMatchObject({ state: "error", failures: 2, next_restart_at: null, last_error: "pre_start failed" });
  });
});
