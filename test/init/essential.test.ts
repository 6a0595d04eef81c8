// The pure rules of `essential: true`: when a unit has ended for good, and the exit code it leaves.
import { expect, test } from "bun:test";
import { essentialEnd, exitCodeOf, hasEndedForGood } from "../../src/engine/essential.ts";
import { newUnit, type Unit } from "../../src/store/unit.ts";
import { testService } from "../backends/service.ts";

const unit = (over: Partial<Unit>): Unit => ({ ...newUnit(), wanted: "up", ...over });

test.each([
  ["completed", { state: "completed", exit_code: 0 }, {}, true, 0],
  ["given up on, exit 7", { state: "error", exit_code: 7, last_error: "job exited with code 7", gave_up_at: "2026-12-01T00:00:00.000Z" }, {}, true, 7],
  ["error by signal", { state: "error", exit_code: null, last_error: "job was killed by SIGTERM" }, {}, true, 143],
  ["error by SIGKILL while starting", { state: "error", exit_code: null, last_error: "job was killed by SIGKILL while starting" }, {}, true, 137],
  ["error, status unknown", { state: "error", exit_code: null, last_error: "job ended (exit status unknown)" }, {}, true, 1],
  ["error that could not start", { state: "error", exit_code: null, last_error: "cannot start nope: command not found" }, {}, true, 1],
  ["given up, but retry_after_error", { state: "error", exit_code: 1, gave_up_at: "2026-12-01T00:00:00.000Z" }, { retryAfterError: true }, false, 1],
  ["stopped by sv down (an old exit code left)", { state: "stopped", wanted: "down", exit_code: 3 }, {}, true, 0],
  ["stopped, still wanted up", { state: "stopped" }, {}, false, 0],
  ["restarting", { state: "restarting", exit_code: 1 }, {}, false, 1],
  ["running", { state: "running" }, {}, false, 1],
] as const)("a unit %s", (_, over, svcOver, ended, code) => {
  const svc = testService("job", "true", "/", { essential: true, ...svcOver });
  const u = unit(over as Partial<Unit>);
  expect(hasEndedForGood(svc, u)).toBe(ended);
  expect(exitCodeOf(u)).toBe(code);
});

test("essentialEnd: only essential services count; the first unit of one that ended for good, in words", () => {
  const job = testService("job", "true", "/", { essential: true, instances: 2 });
  const side = testService("side", "true", "/");
  const state = {
    version: 2 as const,
    units: {
      side: unit({ state: "error", exit_code: 9, last_error: "side exited with code 9" }),
      "job.0": unit({ state: "running" }),
      "job.1": unit({ state: "error", exit_code: 4, last_error: "job.1 exited with code 4" }),
    },
  };
  expect(essentialEnd([side, job], state)).toEqual({ unit: "job.1", exitCode: 4, why: "job.1 (essential) exited with code 4" });
  expect(essentialEnd([side], state)).toBeNull();
});
