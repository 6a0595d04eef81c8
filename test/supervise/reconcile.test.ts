// `sv reconcile` run like cron (here: again and again from the test): it revives crashed services, backs
// off a crash loop, gives up after max_restarts (alerting a real webhook), never starts a unit twice when
// two run at once, says nothing when nothing changed, and respects the store lock.
import { expect, test } from "bun:test";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, events, fixture, freePort, isAlive, isListening, killAfterTest, SV, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";
import { killGroup, reconcileUntil, spawns, unitEvents, webhookServer } from "./support.ts";

// The relay records how a service ended, so a later sv knows: unless the relay was killed with it.
const KILLED = "web was killed by SIGKILL";
const UNKNOWN = "web ended (exit status unknown)";
const CRASHED = "crash exited with code 1 while starting";

/** A service that exits 1 at once, recording each spawn's pid in `file`. */
const crashLoop = (file: string, extra: Record<string, unknown>) => JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, "sh", "-c", "exit 1"], ...extra });

const ms = (ts: string) => Date.parse(ts);

test("cron-style: after a SIGKILL, one reconcile run records how it ended and brings it back at once; after a second kill in a row it waits out restart_delay", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart_delay: "300ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const oldPid = (await unitStatus(p.root, "web")).pid!;
  // kill -9 of the service alone: its relay lives on to record the signal.
  process.kill(oldPid, "SIGKILL");
  await waitFor(() => !isAlive(oldPid), "the killed service to be gone");

  const t0 = performance.now();
  const runs = await reconcileUntil(p.root, async () => (await isListening(port)) && (await unitStatus(p.root, "web")).state === "running", "web serving again");
  console.log(`reconcile loop: SIGKILL -> serving again in ${Math.round(performance.now() - t0)} ms over ${runs.length} runs`);
  const now = await unitStatus(p.root, "web");
  expect(now).toMatchObject({ state: "running", health: "healthy", restarts: 1 });
  expect(now.pid).not.toBe(oldPid);

  // The first crash of a service that had been up is restarted at once: one run, one line per step, exit 0.
  expect(runs).toHaveLength(1);
  expect(runs[0]).toEqual({
    code: 0,
    stderr: "",
    stdout: `web: running -> restarting (${KILLED})\nweb: restarting: ${KILLED}\nweb: running (health check passed)\n`,
  });
  // The start is recorded before anything is created, so its event has no pid yet; running names the new one.
  expect(unitEvents(p.root, "web").slice(2)).toEqual([
    { service: "web", from: "running", to: "restarting", reason: KILLED, pid: oldPid },
    { service: "web", from: "restarting", to: "starting", reason: `restarting: ${KILLED}`, pid: null },
    { service: "web", from: "starting", to: "running", reason: "health check passed", pid: now.pid },
  ]);

  // Killed again right after that restart, relay and all (its exit cannot be known now): a consecutive
  // failure, backed off by restart_delay. A restart due within the run's 10 s settle window is waited for
  // by that same run (not left to the next cron run a minute later).
  killGroup(now.pid!);
  await waitFor(() => !isAlive(now.pid!), "the restarted service to be gone");
  const again = await sv(p.root, ["reconcile"]);
  const last = await unitStatus(p.root, "web");
  expect(again).toEqual({
    code: 0,
    stderr: "",
    stdout: `web: running -> restarting (${UNKNOWN}; restart in 300 ms (attempt 2))\nweb: restarting: ${UNKNOWN}\nweb: running (health check passed)\n`,
  });
  expect(last).toMatchObject({ state: "running", health: "healthy", restarts: 2 });
  expect(last.pid).not.toBe(now.pid);
  expect(await isListening(port)).toBe(true);
  const ev = unitEvents(p.root, "web").slice(5);
  expect(ev).toEqual([
    { service: "web", from: "running", to: "restarting", reason: `${UNKNOWN}; restart in 300 ms (attempt 2)`, pid: now.pid },
    { service: "web", from: "restarting", to: "starting", reason: `restarting: ${UNKNOWN}`, pid: null },
    { service: "web", from: "starting", to: "running", reason: "health check passed", pid: last.pid },
  ]);
  // The restart waited at least restart_delay after the end was recorded.
  const all = events(p.root).filter((e) => e.service === "web");
  expect(ms(all.at(-2)!.ts) - ms(all.at(-3)!.ts)).toBeGreaterThanOrEqual(300);

  // Nothing to do now: silent, exit 0.
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
});

test("a crash loop under cron: the first retry is at once, then the delays double from restart_delay up to restart_max_delay", async () => {
  const p = tempProject();
  const file = join(p.root, "spawns");
  p.write("services/crash.yml", crashLoop(file, { restart_delay: "400ms", restart_max_delay: "1600ms", max_restarts: 0 }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(1);
  expect(up.stdout).toBe(`✘ crash: ${CRASHED}\n`);
  // restart: on-failure (the default): a failed start is restarting, for the reconciler to try again.
  expect(await unitStatus(p.root, "crash")).toMatchObject({ state: "restarting", wanted: "up", restarts: 0, last_error: CRASHED });

  await reconcileUntil(p.root, () => spawns(file).length >= 7, "six restarts", 40_000);
  const ev = events(p.root).filter((e) => e.service === "crash");
  // Each failure is decided as it is recorded: none before the first retry, then doubling from restart_delay, then capped.
  const failures = ev.filter((e) => e.from === "starting" && e.to === "restarting").map((e) => e.reason);
  expect(failures.slice(0, 6)).toEqual([CRASHED, ...[400, 800, 1600, 1600, 1600].map((d, i) => `${CRASHED}; restart in ${d} ms (attempt ${i + 2})`)]);
  // A crash loop never enters error (max_restarts: 0 is unlimited), and there are no separate schedule notes.
  expect(ev.filter((e) => e.to === "error" || e.from === e.to)).toEqual([]);
  // The first failure was followed straight by its restart.
  const firstFailure = ev.findIndex((e) => e.from === "starting" && e.to === "restarting");
  expect(ev[firstFailure + 1]).toMatchObject({ from: "restarting", to: "starting", reason: `restarting: ${CRASHED}` });

  // And the time between a failure and the next attempt is at least that delay, and grows while it doubles.
  const gaps: number[] = [];
  for (let i = 0; i < ev.length; i++) {
    if (ev[i]!.to !== "starting" || ev[i]!.from !== "restarting") continue;
    const failed = ev.slice(0, i).findLast((e) => e.from === "starting" && e.to === "restarting")!;
    gaps.push(ms(ev[i]!.ts) - ms(failed.ts));
  }
  console.log(`crash loop under cron: gaps between failure and next attempt ${gaps.join(", ")} ms`);
  expect(gaps.length).toBeGreaterThanOrEqual(6);
  [0, 400, 800, 1600, 1600, 1600].forEach((d, i) => expect(gaps[i]!).toBeGreaterThanOrEqual(d));
  expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
  expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
  expect(gaps[3]!).toBeGreaterThan(gaps[2]!);
  // Between runs it is restarting, with the time of its next try.
  const s = (await unitStatus(p.root, "crash")) as Awaited<ReturnType<typeof unitStatus>> & { next_restart_at?: string };
  expect(s.state).toBe("restarting");
  expect(s.restarts).toBe(spawns(file).length - 1);
  expect(ms(s.next_restart_at!)).toBeGreaterThan(ms(ev.at(-1)!.ts));
}, 60_000);

test("a flapping service gives up after max_restarts: state error, one webhook POST naming it, reconcile exits 1", async () => {
  const p = tempProject();
  const file = join(p.root, "spawns");
  const hook = webhookServer();
  try {
    p.write("services/crash.yml", crashLoop(file, { restart_delay: "100ms", max_restarts: 2, on_failure: [{ webhook: hook.url }] }));
    expect((await sv(p.root, ["up"])).code).toBe(1);
    const reason = `gave up after 2 restarts (max_restarts): ${CRASHED}`;
    const runs = await reconcileUntil(p.root, () => hook.bodies.length > 0, "the on_failure webhook");
    // One run does both restarts (the second is due 100 ms later, within its settle window), and says it gave up.
    expect(runs).toEqual([
      {
        code: 1,
        stderr: "",
        stdout: `crash: restarting: ${CRASHED}\ncrash: start failed: ${CRASHED}\ncrash: restarting: ${CRASHED}\ncrash: start failed: ${CRASHED}\ncrash: ${reason}\n`,
      },
    ]);
    expect(spawns(file)).toHaveLength(3);
    expect(await unitStatus(p.root, "crash")).toMatchObject({ state: "error", wanted: "up", restarts: 2, last_error: CRASHED });
    const ev = unitEvents(p.root, "crash");
    expect(ev.filter((e) => e.from === "starting").map((e) => `${e.to}: ${e.reason}`)).toEqual([
      `restarting: ${CRASHED}`,
      `restarting: ${CRASHED}; restart in 100 ms (attempt 2)`,
      `error: ${reason}`,
    ]);
    expect(hook.bodies).toEqual([
      {
        service: "crash",
        unit: "crash",
        project: p.root,
        event: { ts: expect.any(String), service: "crash", from: "starting", to: "error", reason, pid: ev.at(-1)!.pid },
      },
    ]);

    // Given up means given up: more passes start nothing, alert nobody again, and keep failing the cron job.
    for (let i = 0; i < 3; i++) expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stdout: "", stderr: "" });
    expect(spawns(file)).toHaveLength(3);
    expect(hook.bodies).toHaveLength(1);
  } finally {
    hook.stop();
  }
});

test("retry_after_error: after giving up, it is retried each restart_max_delay, and each failed retry is an alert", async () => {
  const p = tempProject();
  const file = join(p.root, "spawns");
  const hook = webhookServer();
  try {
    p.write("services/crash.yml", crashLoop(file, { restart_delay: "100ms", restart_max_delay: "1s", max_restarts: 1, retry_after_error: true, on_failure: [{ webhook: hook.url }] }));
    expect((await sv(p.root, ["up"])).code).toBe(1);
    await reconcileUntil(p.root, () => spawns(file).length >= 5, "two retries after giving up");
    const ev = events(p.root).filter((e) => e.service === "crash");
    const reason = `gave up after 1 restarts (max_restarts): ${CRASHED}`;
    const gaveUp = ev.findIndex((e) => e.reason === reason);
    expect(gaveUp).toBeGreaterThan(-1);
    expect(ev[gaveUp]).toMatchObject({ from: "starting", to: "error" });
    const retries = ev.filter((e, i) => i > gaveUp && e.to === "starting");
    expect(retries.length).toBeGreaterThanOrEqual(2);
    for (const retry of retries) expect(retry).toMatchObject({ from: "error", reason: "retry_after_error: retrying 1 s after giving up" });
    // Each retry comes at least restart_max_delay after the failure before it: no hot loop once given up.
    for (const retry of retries) {
      const failed = ev.slice(0, ev.indexOf(retry)).findLast((e) => e.to === "error")!;
      expect(ms(retry.ts) - ms(failed.ts)).toBeGreaterThanOrEqual(1000);
    }
    // A failed retry is one more restart beyond max_restarts: it gives up again, into error, and that alerts.
    const intoError = ev.filter((e) => e.to === "error");
    expect(intoError.map((e) => e.reason)).toEqual(intoError.map(() => reason));
    expect(intoError.length).toBeGreaterThanOrEqual(3);
    expect(hook.bodies.map((b) => (b as { event: { reason: string; ts: string } }).event)).toEqual(intoError);
  } finally {
    hook.stop();
  }
});

test.each(["0s", "200ms"])("two reconcilers racing (restart_delay %s) start a crashed service exactly once, round after round", async (delay) => {
  const p = tempProject();
  const port = freePort();
  const file = join(p.root, "spawns");
  p.write("services/web.yml", JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, BUN, fixture("tcp-server.ts")], port, restart_delay: delay }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const race = () =>
    Promise.all(
      [0, 1].map(async () => {
        const proc = Bun.spawn([SV, "reconcile"], { cwd: p.root, env: { ...process.env, NO_COLOR: "1", CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
        killAfterTest(proc.pid);
        return { code: await proc.exited, stdout: await new Response(proc.stdout).text() };
      }),
    );
  for (let round = 1; round <= 4; round++) {
    const before = spawns(file);
    expect(before).toHaveLength(round);
    const pid = before.at(-1)!.pid;
    killGroup(pid);
    await waitFor(() => !isAlive(pid), "the killed service to be gone");
    // Pairs of reconcilers started at the same instant, until it runs again.
    await waitFor(async () => {
      await race();
      const s = await unitStatus(p.root, "web");
      return s.state === "running" && s.pid !== pid;
    }, `round ${round}: web running again`);
    expect(spawns(file)).toHaveLength(round + 1);
    expect((await unitStatus(p.root, "web")).pid).toBe(spawns(file).at(-1)!.pid);
    expect(await isListening(port)).toBe(true);
  }
  expect((await unitStatus(p.root, "web")).restarts).toBe(4);
  // Every start in the log is one of the recorded spawns, each exactly once: one start event per spawn
  // (recorded before anything is created, so without a pid), and each spawn's pid running once.
  const web = events(p.root).filter((e) => e.service === "web");
  expect(web.filter((e) => e.to === "starting")).toHaveLength(spawns(file).length);
  expect(web.filter((e) => e.from === "starting" && e.to === "running").map((e) => e.pid)).toEqual(spawns(file).map((s) => s.pid));
});

test("nothing to do: sv reconcile prints nothing and exits 0", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port }));
  p.write("services/job.yml", JSON.stringify({ type: "oneshot", command: "echo did the job" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const store = join(p.root, ".sv/state/services.yml");
  const written = statSync(store).mtimeMs;
  for (let i = 0; i < 3; i++) expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
  // Nothing changed, so nothing was written.
  expect(statSync(store).mtimeMs).toBe(written);
  expect(await sv(p.root, ["reconcile", "--json"])).toEqual({ code: 0, stdout: `${JSON.stringify({ actions: [], not_ready: [] })}\n`, stderr: "" });
});

test("the store lock: --no-wait-lock exits 3 at once with a clear message; without it, reconcile waits about 2 s, then exits 3", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart_delay: "0s" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const pid = (await unitStatus(p.root, "web")).pid!;
  killGroup(pid);
  await waitFor(() => !isAlive(pid), "the killed service to be gone");

  // A crash to record means reconcile needs the lock; someone else holds it.
  const holder = Bun.spawn([BUN, fixture("hold-lock.ts"), p.root], { stdio: ["ignore", "pipe", "inherit"] });
  killAfterTest(holder.pid);
  const reader = holder.stdout.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("locked\n");
  try {
    const quick = await sv(p.root, ["reconcile", "--no-wait-lock"]);
    expect(quick.code).toBe(3);
    expect(quick.stdout).toBe("");
    expect(quick.stderr).toMatch(new RegExp(`^✘ the store is locked by pid ${holder.pid} .*\\n  hint: another sv is changing state; retry, or drop --no-wait-lock to wait\\n$`));

    const t0 = performance.now();
    const patient = await sv(p.root, ["reconcile"]);
    const waited = performance.now() - t0;
    console.log(`reconcile without --no-wait-lock gave up on the lock after ${Math.round(waited)} ms`);
    expect(patient.code).toBe(3);
    expect(patient.stderr).toMatch(/^✘ the store is locked by pid \d+ .*\n  hint: another sv holds the lock; it is released when that process exits\n$/);
    expect(waited).toBeGreaterThanOrEqual(1900);
    expect(waited).toBeLessThan(9000);
    // It changed nothing while locked out (read the store directly: sv status would need the lock too).
    const store = Bun.YAML.parse(p.read(".sv/state/services.yml")) as { services: Record<string, { state: string; handle: { pid: number }; restarts: number }> };
    expect(store.services.web).toMatchObject({ state: "running", handle: { pid }, restarts: 0 });
  } finally {
    holder.kill("SIGKILL");
    await holder.exited;
  }
  // Lock released: the next pass does the work.
  await reconcileUntil(p.root, async () => (await unitStatus(p.root, "web")).state === "running", "web running again");
  expect(await isListening(port)).toBe(true);
});

test("reconcile rotates a log that outgrew log.max_size, and says so once", async () => {
  const p = tempProject();
  p.write("services/chatty.yml", JSON.stringify({ command: "head -c 3000 /dev/zero | tr '\\0' x; echo; echo ready; exec sleep 1000", log: { max_size: "1K", keep: 2 } }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const log = join(p.root, ".sv/log/chatty.log");
  await waitFor(() => existsSync(log) && statSync(log).size >= 3007, "the service to write its output");
  const r = await sv(p.root, ["reconcile"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^chatty: log rotated \(.*\)\n$/);
  expect(p.read(".sv/log/chatty.log.1")).toBe(`${"x".repeat(3000)}\nready\n`);
  expect(statSync(log).size).toBeLessThan(1024);
  // Below the limit now: the next pass has nothing to say.
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
});

test("restart: no — a crash is final: on_failure fires once on entering error, nothing is restarted, reconcile keeps exiting 1", async () => {
  const p = tempProject();
  const port = freePort();
  const file = join(p.root, "spawns");
  const hook = webhookServer();
  try {
    p.write("services/web.yml", JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, BUN, fixture("tcp-server.ts")], port, restart: "no", on_failure: [{ webhook: hook.url }] }));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const pid = spawns(file)[0]!.pid;
    process.kill(pid, "SIGKILL");
    await waitFor(() => !isAlive(pid), "the killed service to be gone");
    expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stderr: "", stdout: `web: running -> error (${KILLED})\n` });
    expect(hook.bodies).toEqual([{ service: "web", unit: "web", project: p.root, event: { ts: expect.any(String), service: "web", from: "running", to: "error", reason: KILLED, pid } }]);
    for (let i = 0; i < 2; i++) expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stdout: "", stderr: "" });
    expect(spawns(file)).toHaveLength(1);
    expect(hook.bodies).toHaveLength(1);
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "error", wanted: "up", restarts: 0, last_error: KILLED, exit_code: null });
  } finally {
    hook.stop();
  }
});

test("an unreachable on_failure webhook is one warning line; the pass still does its work", async () => {
  const p = tempProject();
  const port = freePort();
  const dead = `http://127.0.0.1:${freePort()}/alerts`;
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart: "no", on_failure: [{ webhook: dead }] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const pid = (await unitStatus(p.root, "web")).pid!;
  killGroup(pid);
  await waitFor(() => !isAlive(pid), "the killed service to be gone");
  const r = await sv(p.root, ["reconcile"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe(`web: running -> error (${UNKNOWN})\n`);
  expect(r.stderr).toStartWith(`⚠ web: on_failure webhook ${dead} failed: `);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(await unitStatus(p.root, "web")).toMatchObject({ state: "error" });
});

test("cron-style: a service turning unhealthy is restarted by the passes that probe it", async () => {
  const p = tempProject({ "health-status": "200\n" });
  const port = freePort();
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: [BUN, fixture("http-server.ts"), join(p.root, "health-status")],
      port,
      health_check: { type: "http", url: `http://127.0.0.1:${port}/health`, interval: "100ms", timeout: "1s", retries: 2 },
      restart_delay: "0s",
    }),
  );
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const oldPid = (await unitStatus(p.root, "web")).pid!;
  p.write("health-status", "503\n");
  const reason = `health check failed: http://127.0.0.1:${port}/health returned 503 (expected 200)`;
  // A failed check counts at most once per interval (100 ms): the first pass counts one and says nothing;
  // a pass an interval later makes it unhealthy and restarts it.
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
  // That pass then waits for the replacement, which meets the same failing endpoint: failing probes do not
  // fail a start before its start_timeout (60 s here), so the replacement stays starting until the
  // endpoint answers 200, which the test makes it do once the old process is gone.
  const second = await waitFor(async () => {
    const run = svBackground(p.root, ["reconcile"]);
    let settled = false;
    void run.done.then(() => (settled = true));
    while (!settled && isAlive(oldPid)) await Bun.sleep(2);
    if (!isAlive(oldPid)) p.write("health-status", "200\n");
    const r = await run.done;
    return r.stdout !== "" ? r : null;
  }, "a pass that finds web unhealthy");
  expect(second).toEqual({
    code: 0,
    stderr: "",
    stdout: [
      `web: unhealthy: ${reason}`,
      `web: unhealthy: ${reason}; restarting`,
      `web: restarting: unhealthy: ${reason}; stopped for a restart`,
      "web: running (health check passed)",
      "",
    ].join("\n"),
  });
  const now = await unitStatus(p.root, "web");
  expect(now).toMatchObject({ state: "running", health: "healthy", restarts: 1, last_error: null });
  expect(now.pid).not.toBe(oldPid);
  expect(isAlive(oldPid)).toBe(false);
  // Its end is recorded like a crash's, naming the process that was stopped; then the policy starts it.
  expect(unitEvents(p.root, "web").slice(2)).toEqual([
    { service: "web", from: "running", to: "running", reason: `unhealthy: ${reason}`, pid: oldPid },
    { service: "web", from: "running", to: "restarting", reason: `unhealthy: ${reason}; stopped for a restart`, pid: oldPid },
    { service: "web", from: "restarting", to: "starting", reason: `restarting: unhealthy: ${reason}; stopped for a restart`, pid: null },
    { service: "web", from: "starting", to: "running", reason: "health check passed", pid: now.pid },
  ]);
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
});

test("after giving up, a manual sv up is a fresh start: the next crash is restarted again, not given up at once", async () => {
  const p = tempProject({ broken: "" });
  const file = join(p.root, "spawns");
  const hook = webhookServer();
  try {
    p.write(
      "services/web.yml",
      JSON.stringify({
        command: ["sh", fixture("record-pid.sh"), file, "sh", "-c", `if [ -f ${join(p.root, "broken")} ]; then exit 1; fi; exec sleep 1000`],
        restart_delay: "100ms",
        max_restarts: 1,
        on_failure: [{ webhook: hook.url }],
      }),
    );
    expect((await sv(p.root, ["up"])).code).toBe(1);
    await reconcileUntil(p.root, () => hook.bodies.length === 1, "giving up");
    expect(spawns(file)).toHaveLength(2);

    // Fixed; the operator starts it by hand.
    rmSync(join(p.root, "broken"));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const pid = spawns(file).at(-1)!.pid;
    killGroup(pid);
    await waitFor(() => !isAlive(pid), "the killed service to be gone");
    // Its failure count started over at sv up: this crash is a first one, restarted at once (a count carried
    // over from before would give up at once).
    const r = await sv(p.root, ["reconcile"]);
    expect(r).toEqual({ code: 0, stderr: "", stdout: `web: running -> restarting (${UNKNOWN})\nweb: restarting: ${UNKNOWN}\nweb: running (started)\n` });
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", restarts: 2 });
    expect(spawns(file)).toHaveLength(4);
    expect(hook.bodies).toHaveLength(1);

    // And max_restarts counts from that fresh start too: a second crash in a row is the one too many.
    const restarted = spawns(file).at(-1)!.pid;
    killGroup(restarted);
    await waitFor(() => !isAlive(restarted), "the restarted service to be gone");
    const reason = `gave up after 1 restarts (max_restarts): ${UNKNOWN}`;
    expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stderr: "", stdout: `web: running -> error (${reason})\n` });
    expect(spawns(file)).toHaveLength(4);
    expect(hook.bodies).toHaveLength(2);
    expect(hook.bodies[1]).toMatchObject({ service: "web", event: { from: "running", to: "error", reason, pid: restarted } });
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "error", restarts: 2, last_error: UNKNOWN });
  } finally {
    hook.stop();
  }
});

test("a unit restarting when its policy turned to no settles in error, and does not keep a reconcile run waiting", async () => {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: "exit 3", restart: "no" }));
  const past = new Date(Date.now() - 1000).toISOString();
  const unit = { wanted: "up", state: "error", health: "unknown", pid: null, start_ticks: null, since: past, started_at: past, restarts: 1, failures: 2, next_restart_at: past, gave_up_at: null, health_failures: 0, health_failed_at: null, exit_code: 3, last_error: "web exited with code 3", start_duration_s: null, owner_pid: null, owner_ticks: null };
  // An sv 0.1 store: its unit waiting out a backoff in `error` is upgraded to `restarting`.
  p.write(".sv/state/services.yml", JSON.stringify({ version: 1, services: { web: unit } }));
  const t0 = performance.now();
  const r = await sv(p.root, ["reconcile"], { timeoutMs: 8000 });
  expect(r).toEqual({ code: 1, stdout: "web: its restart policy no longer restarts it\n", stderr: "" });
  expect(await unitStatus(p.root, "web")).toMatchObject({ state: "error", last_error: "web exited with code 3" });
  expect(events(p.root).at(-1)).toMatchObject({ service: "web", from: "restarting", to: "error", reason: "its restart policy no longer restarts it" });
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stdout: "", stderr: "" });
  // Well under the 10 s settle window: it did not wait for (or spin on) a restart that will never happen.
  expect(performance.now() - t0).toBeLessThan(5000);
});
