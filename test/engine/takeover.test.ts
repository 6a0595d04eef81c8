// An sv killed in the middle of its work: the next sv finishes the job and orphans nothing.
import { expect, test } from "bun:test";
import { isAlive, killAfterTest, status, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

const slow = (root: string) => ({ command: ["sleep", "1000"], health_check: { type: "command", command: `test -f ${root}/go`, interval: "100ms", retries: 300 } });

async function abandonedStart(root: string): Promise<number> {
  const first = svBackground(root, ["up"]);
  await waitFor(async () => (await status(root))[0]?.state === "starting", "slow to be starting");
  const { pid } = await unitStatus(root, "slow");
  // If sv forgets it, the store no longer names it: make sure the test itself never leaks it.
  killAfterTest(pid!);
  process.kill(first.pid, "SIGKILL");
  await first.done;
  expect(isAlive(pid!)).toBe(true);
  return pid!;
}

test("sv up after an sv up that was killed mid-start does not orphan the first process", async () => {
  const p = tempProject();
  p.write("services/slow.yml", JSON.stringify(slow(p.root)));
  const orphan = await abandonedStart(p.root);

  const second = svBackground(p.root, ["up"]);
  await waitFor(async () => (await unitStatus(p.root, "slow")).pid !== orphan, "the second sv up to take over");
  p.write("go", "");
  const r = await second.done;
  expect(r.code).toBe(0);
  const { pid, state } = await unitStatus(p.root, "slow");
  expect(state).toBe("running");
  // Exactly one process: the one the store knows.
  await waitFor(() => !isAlive(orphan), `the abandoned process ${orphan} to be gone`);
  expect(isAlive(pid!)).toBe(true);
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
