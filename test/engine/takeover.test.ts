// An sv killed in the middle of its work: the next sv finishes the job and orphans nothing. A start whose
// sv died after creating the unit is adopted: the next sv up waits for that very process (within its
// start_timeout, counted from when it was started) and never starts a second one.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { events, fixture, isAlive, killAfterTest, status, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";
import { spawns } from "../supervise/support.ts";

/** Ready once the file `go` exists; every spawn leaves a line in `spawns`. */
const slow = (root: string, extra: Record<string, unknown> = {}) => ({
  command: ["sh", fixture("record-pid.sh"), join(root, "spawns"), "sleep", "1000"],
  health_check: { type: "command", command: `test -f ${root}/go`, interval: "100ms", retries: 300 },
  ...extra,
});

/** An sv up SIGKILLed while its service runs but is not ready yet: the service's pid. */
async function abandonedStart(root: string): Promise<number> {
  const first = svBackground(root, ["up"]);
  const { pid } = await waitFor(() => spawns(join(root, "spawns"))[0], "slow to be spawned");
  // If sv forgets it, the store no longer names it: make sure the test itself never leaks it.
  killAfterTest(pid);
  expect((await status(root))[0]?.state).toBe("starting");
  process.kill(first.pid, "SIGKILL");
  await first.done;
  expect(isAlive(pid)).toBe(true);
  return pid;
}

test("sv up after an sv up that was killed mid-start adopts the first process: it waits for it, never starts a second", async () => {
  const p = tempProject();
  p.write("services/slow.yml", JSON.stringify(slow(p.root)));
  const first = await abandonedStart(p.root);

  const second = svBackground(p.root, ["up"]);
  // Still waiting for the adopted start (not ready yet), and nothing new was spawned.
  await Bun.sleep(500);
  expect(spawns(join(p.root, "spawns"))).toHaveLength(1);
  p.write("go", "");
  const t0 = performance.now();
  const r = await second.done;
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^✓ slow running \\(pid ${first}\\) in \\d+(\\.\\d)? m?s\\n$`));
  expect(await unitStatus(p.root, "slow")).toMatchObject({ state: "running", health: "healthy", pid: first, restarts: 0 });
  // Exactly one process ever ran: the one the store knows.
  expect(spawns(join(p.root, "spawns")).map((s) => s.pid)).toEqual([first]);
  expect(isAlive(first)).toBe(true);
  expect(events(p.root).map((e) => `${e.from}->${e.to}: ${e.reason}`)).toEqual(["stopped->starting: sv up", "starting->running: health check passed"]);
  expect(events(p.root).at(-1)!.pid).toBe(first);
});

test("an adopted start that is not ready within its start_timeout fails then, counted from when it was started", async () => {
  const p = tempProject();
  p.write("services/slow.yml", JSON.stringify(slow(p.root, { start_timeout: "2s", restart: "no" })));
  const first = await abandonedStart(p.root);
  const startedAt = Date.parse(events(p.root)[0]!.ts);
  const r = await sv(p.root, ["up"]);
  // Not the 60 s default_timeout of the waiting sv: the unit's own 2 s from its start.
  expect(Date.now() - startedAt).toBeLessThan(4000);
  const why = "slow was not ready within 2 s (start_timeout): health check failed: health command exited with code 1 (expected 0); raise start_timeout if it needs longer";
  expect(r).toEqual({ code: 1, stdout: `✘ slow: ${why}\n`, stderr: "✘ up: 1 of 1 service failed\n" });
  expect(await unitStatus(p.root, "slow")).toMatchObject({ state: "error", pid: null, last_error: why });
  expect(isAlive(first)).toBe(false);
  expect(spawns(join(p.root, "spawns"))).toHaveLength(1);
});

test("sv down after an sv up that was killed mid-start stops the process it left", async () => {
  const p = tempProject();
  p.write("services/slow.yml", JSON.stringify(slow(p.root)));
  const left = await abandonedStart(p.root);
  const down = await sv(p.root, ["down"]);
  expect(down).toEqual({ code: 0, stdout: "✓ slow stopped\n", stderr: "" });
  expect(isAlive(left)).toBe(false);
  expect(await unitStatus(p.root, "slow")).toMatchObject({ state: "stopped", pid: null });
});
