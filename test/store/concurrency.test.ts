// Many sv processes at once on different services: every update lands.
import { expect, test } from "bun:test";
import { events, isAlive, status, svBackground, tempProject, waitFor } from "../helpers/project.ts";

const NAMES = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, "0")}`);

test("20 concurrent sv up NAME, then 20 concurrent sv down NAME, lose no update", async () => {
  const p = tempProject();
  for (const n of NAMES) p.write(`services/${n}.yml`, JSON.stringify({ command: ["sleep", "1000"] }));

  const ups = await Promise.all(NAMES.map((n) => svBackground(p.root, ["up", n], { timeoutMs: 60_000 }).done));
  ups.forEach((r, i) => {
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^✓ ${NAMES[i]} running \\(pid \\d+\\) in [\\d.]+ m?s\\n$`));
    expect(r.code).toBe(0);
  });
  const up = await status(p.root);
  expect(up.map((s) => [s.name, s.state, s.wanted])).toEqual(NAMES.map((n) => [n, "running", "up"]));
  const pids = up.map((s) => s.pid!);
  expect(new Set(pids).size).toBe(20);
  for (const pid of pids) expect(isAlive(pid)).toBe(true);
  // Each one's pid is the one its own sv up reported.
  ups.forEach((r, i) => expect(r.stdout).toContain(`(pid ${pids[i]})`));

  const downs = await Promise.all(NAMES.map((n) => svBackground(p.root, ["down", n], { timeoutMs: 60_000 }).done));
  downs.forEach((r, i) => expect(r).toEqual({ code: 0, stdout: `✓ ${NAMES[i]} stopped\n`, stderr: "" }));
  expect((await status(p.root)).map((s) => [s.name, s.state, s.wanted, s.pid])).toEqual(NAMES.map((n) => [n, "stopped", "down", null]));
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
});

// The 150 ms a service without a health check must stay alive counts from when its command runs (the gate
// opens), not from when its relay was created: waiting for the lock to record it is no proof of life.
test("20 concurrent sv up NAME of commands that exit at once: every one fails, none is reported running", async () => {
  const p = tempProject();
  for (const n of NAMES) p.write(`services/${n}.yml`, JSON.stringify({ command: ["false"], restart: "no" }));
  const ups = await Promise.all(NAMES.map((n) => svBackground(p.root, ["up", n], { timeoutMs: 60_000 }).done));
  expect(ups.filter((r) => r.code !== 1).map((r) => r.stdout)).toEqual([]);
  const reported = ups.map((r, i) => `${NAMES[i]}: ${r.code} ${r.stdout}${r.stderr}`.trim());
  expect(reported).toEqual(NAMES.map((n) => `${n}: 1 ✘ ${n}: ${n} exited with code 1 while starting\n✘ up: 1 of 1 service failed`));
  expect((await status(p.root)).map((s) => [s.name, s.state, s.last_error])).toEqual(NAMES.map((n) => [n, "error", `${n} exited with code 1 while starting`]));
  expect(events(p.root).filter((e) => e.to === "running")).toEqual([]);
});

test("20 concurrent sv up and sv down on different services at the same time", async () => {
  const p = tempProject();
  for (const n of NAMES) p.write(`services/${n}.yml`, JSON.stringify({ command: ["sleep", "1000"] }));
  const [toStop, toStart] = [NAMES.slice(0, 10), NAMES.slice(10)];
  const first = await svBackground(p.root, ["up", ...toStop], { timeoutMs: 60_000 }).done;
  expect(first.code).toBe(0);
  const oldPids = (await status(p.root)).filter((s) => toStop.includes(s.name)).map((s) => s.pid!);

  const runs = await Promise.all([
    ...toStop.map((n) => svBackground(p.root, ["down", n], { timeoutMs: 60_000 }).done),
    ...toStart.map((n) => svBackground(p.root, ["up", n], { timeoutMs: 60_000 }).done),
  ]);
  for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  const after = await status(p.root);
  expect(after.map((s) => [s.name, s.state, s.wanted])).toEqual(NAMES.map((n) => (toStop.includes(n) ? [n, "stopped", "down"] : [n, "running", "up"])));
  for (const pid of oldPids) expect(isAlive(pid)).toBe(false);
  for (const s of after.filter((s) => s.state === "running")) expect(isAlive(s.pid!)).toBe(true);
});

test("5 concurrent sv up of the same service start one process; the others wait for it", async () => {
  const p = tempProject();
  p.write("services/slow.yml", JSON.stringify({ command: ["sleep", "1000"], health_check: { type: "command", command: `test -f ${p.root}/go`, interval: "100ms", retries: 300 } }));
  const runs = Array.from({ length: 5 }, () => svBackground(p.root, ["up"], { timeoutMs: 60_000 }));
  await waitFor(async () => (await status(p.root))[0]?.state === "starting", "slow to be starting");
  p.write("go", "");
  const results = await Promise.all(runs.map((r) => r.done));
  for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  const { pid } = (await status(p.root))[0]!;
  // One of them started it (and says with which pid, and how long it took); every other one waited for it
  // (naming the same pid) or found it running.
  const starters = results.filter((r) => r.stdout.includes(`(pid ${pid}) in `));
  for (const r of results) expect(r.stdout).toMatch(new RegExp(`running \\(pid ${pid}\\)|already running`));
  expect(starters).toHaveLength(1);
  for (const r of results.filter((r) => !r.stdout.includes(`(pid ${pid})`))) expect(r.stdout).toMatch(/^✓ slow (already )?running\n$/);
  expect(events(p.root).filter((e) => e.to === "starting")).toHaveLength(1);
});
