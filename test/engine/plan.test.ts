// The planner and the backoff are pure: table-driven tests of every decision.
import { describe, expect, test } from "bun:test";
import type { Service } from "../../src/config/schema.ts";
import { BACKOFF_RESET_AFTER_MS, isStable, restartDelayMs } from "../../src/engine/backoff.ts";
import { planUnit } from "../../src/engine/plan.ts";
import { newUnit, type Unit } from "../../src/store/store.ts";

const NOW = Date.parse("2026-11-22T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function svc(over: Partial<Service> = {}): Service {
  return {
    name: "api",
    file: "services/api.yml",
    path: [],
    description: "",
    type: "simple",
    command: "true",
    cwd: "/",
    env: {},
    instances: 1,
    dependsOn: {},
    after: [],
    before: [],
    healthCheck: { type: "process", host: "127.0.0.1", expectedStatus: 200, expectedExitCode: 0, intervalMs: 1000, timeoutMs: 2000, retries: 3, startPeriodMs: 0 },
    restart: "on-failure",
    restartDelayMs: 100,
    restartMaxDelayMs: 60_000,
    maxRestarts: 10,
    retryAfterError: false,
    startDelayMs: 0,
    notifyDelayMs: 0,
    stopSignal: "SIGTERM",
    stopTimeoutMs: 10_000,
    limits: {},
    log: { maxSizeBytes: 10 << 20, keep: 5 },
    onFailure: [],
    hooks: {},
    ...over,
  };
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

describe("planUnit", () => {
  const cases: [string, Partial<Service>, Partial<Unit>, ReturnType<typeof planUnit>][] = [
    ["running and healthy: nothing", {}, { state: "running", health: "healthy" }, null],
    ["stopped but wanted up: start", {}, { state: "stopped" }, { kind: "start", reason: "wanted up", restart: false }],
    ["wanted down and stopped: nothing", {}, { wanted: "down", state: "stopped" }, null],
    ["wanted down but running: stop", {}, { wanted: "down", state: "running" }, { kind: "stop", reason: "wanted down" }],
    ["stopping whose sv died: finish the stop", {}, { state: "stopping" }, { kind: "stop", reason: "finishing a stop whose sv exited" }],
    ["starting: hands off", {}, { state: "starting" }, null],
    ["first crash after running fine: restart at once", {}, { state: "error", failures: 1, last_error: "boom" }, { kind: "start", reason: "restarting: boom", restart: true }],
    [
      "second consecutive crash: schedule after restart_delay",
      {},
      { state: "error", failures: 2, restarts: 1, last_error: "boom" },
      { kind: "schedule", at: NOW + 100, reason: "restart in 100 ms (attempt 2): boom" },
    ],
    [
      "fourth consecutive crash: 400 ms",
      {},
      { state: "error", failures: 4, restarts: 3, last_error: "boom" },
      { kind: "schedule", at: NOW + 400, reason: "restart in 400 ms (attempt 4): boom" },
    ],
    ["restart_delay 0: start at once", { restartDelayMs: 0 }, { state: "error", failures: 3, last_error: "boom" }, { kind: "start", reason: "restarting: boom", restart: true }],
    ["scheduled and due: start", {}, { state: "error", failures: 2, next_restart_at: ago(1), last_error: "boom" }, { kind: "start", reason: "restarting: boom", restart: true }],
    ["scheduled, not yet due: nothing", {}, { state: "error", failures: 2, next_restart_at: new Date(NOW + 50).toISOString() }, null],
    [
      "more failures than max_restarts: give up",
      { maxRestarts: 3 },
      { state: "error", failures: 4, last_error: "boom" },
      { kind: "give-up", reason: "gave up after 3 restarts (max_restarts): boom" },
    ],
    ["max_restarts 0 never gives up", { maxRestarts: 0, restartDelayMs: 0 }, { state: "error", failures: 99, last_error: "x" }, { kind: "start", reason: "restarting: x", restart: true }],
    ["gave up: stays in error", {}, { state: "error", failures: 11, gave_up_at: ago(1) }, null],
    ["gave up, retry_after_error, cap not reached: nothing", { retryAfterError: true }, { state: "error", failures: 11, gave_up_at: ago(59_000) }, null],
    [
      "gave up, retry_after_error, cap reached: start",
      { retryAfterError: true },
      { state: "error", failures: 11, gave_up_at: ago(60_000) },
      { kind: "start", reason: "retry_after_error: retrying 60 s after giving up", restart: true },
    ],
    ["restart no: an error stays", { restart: "no" }, { state: "error", failures: 1 }, null],
    ["on-failure: a clean exit stays completed", {}, { state: "completed" }, null],
    ["always: a clean exit restarts", { restart: "always" }, { state: "completed" }, { kind: "schedule", at: NOW + 100, reason: "restart in 100 ms (attempt 1): exited cleanly; restart: always" }],
    ["oneshot completed: done", { type: "oneshot", restart: "no" }, { state: "completed" }, null],
    ["oneshot on-failure: a failure retries", { type: "oneshot", restart: "on-failure", restartDelayMs: 0 }, { state: "error", failures: 1, last_error: "x" }, { kind: "start", reason: "restarting: x", restart: true }],
    ["unhealthy: restart", {}, { state: "running", health: "unhealthy", last_error: "health check failed: 500" }, { kind: "restart", reason: "unhealthy: health check failed: 500" }],
    ["unhealthy with restart no: left alone", { restart: "no" }, { state: "running", health: "unhealthy" }, null],
    ["up long enough after failures: reset the backoff", {}, { state: "running", health: "healthy", failures: 3, started_at: ago(BACKOFF_RESET_AFTER_MS) }, { kind: "reset-backoff", reason: "stayed up; backoff reset" }],
    ["up briefly after failures: keep counting", {}, { state: "running", health: "healthy", failures: 3, started_at: ago(1000) }, null],
  ];
  test.each(cases)("%s", (_name, s, u, expected) => {
    expect(planUnit(svc(s), unit(u), NOW, false)).toEqual(expected);
  });

  test("a unit another live sv is driving is never touched", () => {
    expect(planUnit(svc(), unit({ state: "error", failures: 1 }), NOW, true)).toBeNull();
    expect(planUnit(svc(), unit({ wanted: "down", state: "running" }), NOW, true)).toBeNull();
  });
});
