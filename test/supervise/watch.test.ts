// `sv watch` heals: a SIGKILLed service serves again, an unhealthy one is replaced, one instance of three
// is restarted alone. Real processes, real ports; every wait is on a condition with a generous deadline.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, SV, events, fixture, freePort, isAlive, isListening, status, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";
import { killGroup, spawns, startWatch, unitEvents, webhookServer } from "./support.ts";

// A SIGKILL of the whole group takes the exit relay along: how the service ended cannot be known.
const UNKNOWN = "web ended (exit status unknown)";
// A SIGKILL of the service alone: its relay records the status, so any sv knows it.
const KILLED = "web was killed by SIGKILL";
/** `text` as a literal in a RegExp. */
const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

test("SIGKILL of a service's whole group under sv watch: serving again, restarts 1, the events say why", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart_delay: "100ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const before = await unitStatus(p.root, "web");
  expect(before).toMatchObject({ state: "running", restarts: 0 });
  const oldPid = before.pid!;

  const watch = startWatch(p.root, ["--interval", "500ms"]);
  try {
    await watch.waitOutput(/watching 1 service in/, "watch to start");
    const t0 = performance.now();
    killGroup(oldPid);
    await waitFor(() => !isAlive(oldPid), "the killed service to be gone");
    // The first crash is restarted at once, so the port may be closed for only a few milliseconds: "serving
    // again" is a new process recorded running (its tcp check passed) and the port accepting, not a dying
    // socket of the old one.
    const after = await waitFor(async () => {
      const s = await unitStatus(p.root, "web");
      return s.state === "running" && s.pid !== oldPid ? s : null;
    }, "a new process running");
    await waitFor(() => isListening(port), "the port to accept connections again");
    const latencyMs = performance.now() - t0;
    console.log(`watch: SIGKILL -> serving again in ${Math.round(latencyMs)} ms`);

    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy", restarts: 1, last_error: null, pid: after.pid });
    expect(isAlive(after.pid!)).toBe(true);

    // Every event, notes included: the first crash of a service that had been up is restarted at once,
    // with no backoff decision between the crash and the restart.
    // (A start is claimed before anything exists: its event names no pid yet.)
    expect(unitEvents(p.root, "web")).toEqual([
      { service: "web", from: "stopped", to: "starting", reason: "sv up", pid: null },
      { service: "web", from: "starting", to: "running", reason: "health check passed", pid: oldPid },
      { service: "web", from: "running", to: "restarting", reason: UNKNOWN, pid: oldPid },
      { service: "web", from: "restarting", to: "starting", reason: `restarting: ${UNKNOWN}`, pid: null },
      { service: "web", from: "starting", to: "running", reason: "health check passed", pid: after.pid },
    ]);
    await watch.waitOutput(/web: running \(health check passed\)/, "watch to report the restart");
    // Its lines (each after a timestamp): the crash, then straight away the restart.
    expect(watch.output()).toMatch(new RegExp(`web: running -> restarting \\(${esc(UNKNOWN)}\\)\\n\\S+ web: restarting: ${esc(UNKNOWN)}\\n`));
    expect(watch.output()).not.toContain("restart in");

    // Ctrl-C ends watch with exit 0; the service it restarted keeps running.
    expect(await watch.stop()).toBe(130);
    expect(isAlive(after.pid!)).toBe(true);
    expect(await isListening(port)).toBe(true);
  } finally {
    await watch.stop();
  }
});

test("a service whose HTTP health endpoint starts failing is marked unhealthy and replaced by a new process", async () => {
  const p = tempProject({ "health-status": "200\n" });
  const port = freePort();
  const hook = webhookServer();
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: [BUN, fixture("http-server.ts"), join(p.root, "health-status")],
      port,
      health_check: { type: "http", url: `http://127.0.0.1:${port}/health`, interval: "200ms", timeout: "1s", retries: 2 },
      restart_delay: "100ms",
      on_failure: [{ webhook: hook.url }, { command: `echo "$SV_EVENT" >> ${join(p.root, "failures.jsonl")}` }],
    }),
  );
  try {
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const oldPid = (await unitStatus(p.root, "web")).pid!;
    const watch = startWatch(p.root, ["--interval", "200ms"]);
    try {
      await watch.waitOutput(/watching 1 service in/, "watch to start");
      p.write("health-status", "500\n");
      const reason = `health check failed: http://127.0.0.1:${port}/health returned 500 (expected 200)`;
      await watch.waitOutput(new RegExp(`web: unhealthy: ${reason.replace(/[.()/?]/g, "\\$&")}`), "watch to see it unhealthy");
      // Healthy again from now on, so the replacement can pass its check.
      p.write("health-status", "200\n");
      const replaced = await waitFor(async () => {
        const s = await unitStatus(p.root, "web");
        return s.state === "running" && s.health === "healthy" && s.pid !== oldPid && s ? s : null;
      }, "a new, healthy process");
      expect(isAlive(oldPid)).toBe(false);
      expect(replaced.restarts).toBeGreaterThanOrEqual(1);
      const ev = unitEvents(p.root, "web");
      const unhealthy = ev.findIndex((e) => e.from === "running" && e.to === "running" && e.reason === `unhealthy: ${reason}`);
      const stopped = ev.findIndex((e) => e.from === "running" && e.to === "restarting" && e.reason === `unhealthy: ${reason}; stopped for a restart`);
      const restarted = ev.findIndex((e) => e.from === "restarting" && e.to === "starting" && e.reason === `restarting: unhealthy: ${reason}; stopped for a restart`);
      const running = ev.findIndex((e) => e.from === "starting" && e.to === "running" && e.pid === replaced.pid);
      expect(unhealthy).toBeGreaterThan(-1);
      expect(stopped).toBeGreaterThan(unhealthy);
      expect(restarted).toBe(stopped + 1);
      expect(running).toBeGreaterThan(restarted);
      expect(ev[stopped]!.pid).toBe(oldPid);

      // on_failure fired for turning unhealthy: the webhook got JSON naming the service, the command got SV_EVENT.
      await waitFor(() => hook.bodies.length > 0, "the on_failure webhook");
      expect(hook.bodies[0]).toMatchObject({ service: "web", unit: "web", event: { service: "web", reason: `unhealthy: ${reason}` } });
      const fromCommand = JSON.parse(readFileSync(join(p.root, "failures.jsonl"), "utf8").split("\n")[0]!);
      expect(fromCommand).toMatchObject({ service: "web", from: "running", to: "running", reason: `unhealthy: ${reason}`, pid: oldPid });
      expect(await watch.stop()).toBe(130);
    } finally {
      await watch.stop();
    }
  } finally {
    hook.stop();
  }
});

test("instances: 3 run as three processes with SV_INSTANCE 0..2; killing one restarts only that one", async () => {
  const p = tempProject();
  const file = join(p.root, "spawns");
  p.write("services/worker.yml", JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, "sleep", "1000"], instances: 3, restart_delay: "100ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const units = await status(p.root);
  expect(units.map((u) => [u.name, u.state])).toEqual([
    ["worker.0", "running"],
    ["worker.1", "running"],
    ["worker.2", "running"],
  ]);
  const pids = units.map((u) => u.pid!);
  expect(new Set(pids).size).toBe(3);
  // Each process saw its own SV_INSTANCE.
  expect(spawns(file).sort((a, b) => a.instance.localeCompare(b.instance))).toEqual(pids.map((pid, i) => ({ pid, instance: String(i) })));

  const watch = startWatch(p.root, ["--interval", "500ms"]);
  try {
    await watch.waitOutput(/watching 1 service in/, "watch to start");
    killGroup(pids[1]!);
    const after = await waitFor(async () => {
      const s = await status(p.root);
      return s[1]!.state === "running" && s[1]!.pid !== pids[1] ? s : null;
    }, "worker.1 to be running again");
    expect(after.map((u) => u.pid)).toEqual([pids[0]!, after[1]!.pid, pids[2]!]);
    expect(after.map((u) => u.restarts)).toEqual([0, 1, 0]);
    // Exactly one new spawn, and it was instance 1.
    expect(spawns(file).slice(3)).toEqual([{ pid: after[1]!.pid!, instance: "1" }]);
    for (const pid of [pids[0]!, pids[2]!, after[1]!.pid!]) expect(isAlive(pid)).toBe(true);
    expect(await watch.stop()).toBe(130);
  } finally {
    await watch.stop();
  }
});

test("sv watch in a real terminal (tmux, 80x24): the table, a SIGKILLed service back with RST 1, Ctrl-C leaves services running", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart_delay: "100ms" }));
  p.write("services/worker.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const [web, worker] = (await status(p.root)).map((s) => s.pid!);

  const socket = `sv-watch-test-${process.pid}-${port}`;
  const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", socket, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const pane = () => tmux("capture-pane", "-p", "-t", "sv").stdout.toString();
  const rc = join(p.root, "watch.rc");
  // The shell traps SIGINT so it outlives Ctrl-C and records watch's exit code (the trap is reset for watch).
  const script = `trap 'true' INT; cd ${p.root} && ${SV} watch --interval 500ms; echo $? > ${rc}; exec sleep 1000`;
  expect(tmux("new-session", "-d", "-s", "sv", "-x", "80", "-y", "24", "env", "-u", "CI", "-u", "NO_COLOR", "TERM=xterm-256color", "sh", "-c", script).exitCode).toBe(0);
  try {
    const row = (name: string, rest: string) => new RegExp(`^${name}\\s+${rest}`, "m");
    await waitFor(() => /^NAME\s+STATE\s+HEALTH\s+PID\s+UPTIME\s+RST\s+LAST EVENT/m.test(pane()) && row("worker", "running").test(pane()), `the table in the pane:\n${pane()}`);
    const first = pane();
    expect(first).toMatch(row("web", `running\\s+healthy\\s+${web}\\s+\\S+\\s+0\\b`));
    expect(first).toMatch(row("worker", `running\\s+healthy\\s+${worker}\\s+\\S+\\s+0\\b`));
    const lines = first.replace(/\n+$/, "").split("\n");
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);

    killGroup(web!);
    const again = row("web", "running\\s+healthy\\s+(\\d+)\\s+\\S+\\s+1\\b");
    const shown = await waitFor(() => again.exec(pane()), `web running again with RST 1 in the pane:\n${pane()}`);
    const newPid = Number(shown[1]);
    expect(newPid).not.toBe(web);
    expect(await isListening(port)).toBe(true);

    tmux("send-keys", "-t", "sv", "C-c");
    await waitFor(() => existsSync(rc) && readFileSync(rc, "utf8").endsWith("\n"), "watch to exit after Ctrl-C").catch((e) => {
      throw new Error(`${(e as Error).message}\n${pane()}`);
    });
    expect(readFileSync(rc, "utf8")).toBe("130\n");
    expect(isAlive(newPid)).toBe(true);
    expect(isAlive(worker!)).toBe(true);
    expect(await status(p.root)).toMatchObject([
      { name: "web", state: "running", pid: newPid, restarts: 1 },
      { name: "worker", state: "running", pid: worker, restarts: 0 },
    ]);
  } finally {
    tmux("kill-server");
  }
});

test("sv up racing watch for a crashed service: whoever comes second leaves the running process alone", async () => {
  const p = tempProject();
  const port = freePort();
  const file = join(p.root, "spawns");
  // The pre_start hook makes `sv up` slow (HOOK_SLEEP is expanded from each sv's own environment), so watch
  // wins; restart_delay 2s gives that `sv up` time to begin before watch restarts a consecutive crash.
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: ["sh", fixture("record-pid.sh"), file, BUN, fixture("tcp-server.ts")],
      port,
      restart_delay: "2s",
      hooks: { pre_start: "sleep ${HOOK_SLEEP:-0}" },
    }),
  );
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const watch = startWatch(p.root, ["--interval", "500ms"]);
  try {
    await watch.waitOutput(/watching 1 service in/, "watch to start");
    const runningAgain = async (n: number) => spawns(file).length === n && (await unitStatus(p.root, "web")).state === "running";
    // A first crash is restarted at once; crashing again right after is a consecutive failure that waits
    // restart_delay — the window in which `sv up` comes along.
    const first = spawns(file)[0]!.pid;
    killGroup(first);
    await waitFor(() => runningAgain(2), "watch to restart web at once");
    const second = spawns(file)[1]!.pid;
    // The service alone this time (its relay records how it ended).
    process.kill(second, "SIGKILL");
    await waitFor(
      () => unitEvents(p.root, "web").some((e) => e.to === "restarting" && e.reason === `${KILLED}; restart in 2000 ms (attempt 2)` && e.pid === second),
      "watch to schedule the restart",
    );
    const up = svBackground(p.root, ["up", "web"], { env: { HOOK_SLEEP: "4" } });
    await waitFor(() => runningAgain(3), "watch to restart web after restart_delay");
    const restarted = spawns(file)[2]!.pid;
    const r = await up.done;
    // It ran its slow hook, then found watch's process running and kept it (and says so, with its pid).
    expect(r.stdout).toMatch(new RegExp(`^✓ web running \\(pid ${restarted}\\)`));
    expect(r.code).toBe(0);
    // No fourth process, and the one watch started was not replaced.
    expect(spawns(file)).toHaveLength(3);
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", pid: restarted, restarts: 2 });
    expect(isAlive(restarted)).toBe(true);
    expect(unitEvents(p.root, "web").filter((e) => e.to === "starting").map((e) => e.reason)).toEqual(["sv up", `restarting: ${UNKNOWN}`, `restarting: ${KILLED}`]);
    expect(unitEvents(p.root, "web").filter((e) => e.to === "running").map((e) => e.pid)).toEqual([first, second, restarted]);
    expect(await watch.stop()).toBe(130);
  } finally {
    await watch.stop();
  }
});

test("a service that stays up 10 s after a restart has its backoff reset: a crash right after a restart waits restart_delay, the next crash after the reset restarts at once", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart_delay: "200ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const watch = startWatch(p.root, ["--interval", "300ms"]);
  try {
    await watch.waitOutput(/watching 1 service in/, "watch to start");
    const runningPid = async (not: number) => {
      const s = await unitStatus(p.root, "web");
      return s.state === "running" && s.pid !== not ? s.pid! : null;
    };
    /** The events from the crash of `pid` on: the crash, the backoff decision if any, the restart, running again. */
    const sinceCrashOf = (pid: number) => {
      const all = events(p.root).filter((e) => e.service === "web");
      return all.slice(all.findIndex((e) => e.from === "running" && e.to === "restarting" && e.pid === pid));
    };
    const first = (await unitStatus(p.root, "web")).pid!;
    killGroup(first);
    const second = await waitFor(() => runningPid(first), "the first restart");
    // A one-off crash: restarted at once, no backoff decision.
    expect(sinceCrashOf(first).map(({ ts: _, ...e }) => e)).toEqual([
      { service: "web", from: "running", to: "restarting", reason: UNKNOWN, pid: first },
      { service: "web", from: "restarting", to: "starting", reason: `restarting: ${UNKNOWN}`, pid: null },
      { service: "web", from: "starting", to: "running", reason: "health check passed", pid: second },
    ]);

    // Crashing again right after that restart is a consecutive failure: it waits restart_delay, and the
    // transition says so. (The service alone is killed now: its relay records the signal.)
    process.kill(second, "SIGKILL");
    const third = await waitFor(() => runningPid(second), "the second restart");
    const consecutive = sinceCrashOf(second);
    expect(consecutive.map(({ ts: _, ...e }) => e)).toEqual([
      { service: "web", from: "running", to: "restarting", reason: `${KILLED}; restart in 200 ms (attempt 2)`, pid: second },
      { service: "web", from: "restarting", to: "starting", reason: `restarting: ${KILLED}`, pid: null },
      { service: "web", from: "starting", to: "running", reason: "health check passed", pid: third },
    ]);
    expect(Date.parse(consecutive[1]!.ts) - Date.parse(consecutive[0]!.ts)).toBeGreaterThanOrEqual(200);

    // Ten quiet seconds later the watch forgets the failures (an event, no output line).
    await waitFor(() => unitEvents(p.root, "web").some((e) => e.reason === "stayed up; backoff reset"), "the backoff reset", 25_000);
    expect(watch.output()).not.toContain("backoff reset");
    process.kill(third, "SIGKILL");
    const fourth = await waitFor(() => runningPid(third), "the third restart");
    // Without the reset this would be the third failure in a row, scheduled after the doubled 400 ms.
    expect(sinceCrashOf(third).map(({ ts: _, ...e }) => e)).toEqual([
      { service: "web", from: "running", to: "restarting", reason: KILLED, pid: third },
      { service: "web", from: "restarting", to: "starting", reason: `restarting: ${KILLED}`, pid: null },
      { service: "web", from: "starting", to: "running", reason: "health check passed", pid: fourth },
    ]);
    expect(unitEvents(p.root, "web").filter((e) => e.reason.includes("restart in"))).toHaveLength(1);
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", restarts: 3 });
    expect(await watch.stop()).toBe(130);
  } finally {
    await watch.stop();
  }
}, 60_000);

test("sv down while watch runs: the stopped service stays stopped, while watch keeps healing the others", async () => {
  const p = tempProject();
  const port = freePort();
  const file = join(p.root, "spawns");
  p.write("services/web.yml", JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, BUN, fixture("tcp-server.ts")], port }));
  p.write("services/worker.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const watch = startWatch(p.root, ["--interval", "300ms"]);
  try {
    await watch.waitOutput(/watching 2 services in/, "watch to start");
    expect(await sv(p.root, ["down", "web"])).toEqual({ code: 0, stdout: "✓ web stopped\n", stderr: "" });
    // Proof that watch is still at work: it restarts worker after a SIGKILL …
    const worker = (await unitStatus(p.root, "worker")).pid!;
    killGroup(worker);
    await waitFor(async () => {
      const s = await unitStatus(p.root, "worker");
      return s.state === "running" && s.pid !== worker;
    }, "worker restarted by watch");
    // … and the passes that did so planned web too, and left it alone.
    await watch.waitOutput(/worker: running \(/, "watch to report worker running");
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "stopped", wanted: "down", pid: null });
    expect(spawns(file)).toHaveLength(1);
    expect(await isListening(port)).toBe(false);
    expect(watch.output()).not.toContain("web: restarting");
    expect(await watch.stop()).toBe(130);
  } finally {
    await watch.stop();
  }
});

test("watch rotates a log that outgrew log.max_size", async () => {
  const p = tempProject();
  p.write("services/chatty.yml", JSON.stringify({ command: "head -c 3000 /dev/zero | tr '\\0' x; echo; echo ready; exec sleep 1000", log: { max_size: "1K", keep: 2 } }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  await waitFor(() => p.read(".sv/log/chatty.log").endsWith("ready\n"), "the service to write its output");
  const watch = startWatch(p.root, ["--interval", "200ms"]);
  try {
    await watch.waitOutput(/chatty: log rotated/, "watch to rotate the log");
    expect(p.read(".sv/log/chatty.log.1")).toBe(`${"x".repeat(3000)}\nready\n`);
    expect(p.read(".sv/log/chatty.log")).toBe("");
    expect(await watch.stop()).toBe(130);
    // Once, not on every pass.
    expect(watch.output().match(/log rotated/g)).toHaveLength(1);
  } finally {
    await watch.stop();
  }
});

test("a process sv watch started itself exits 0: its exit status is known, it is completed (no failure), and on-failure leaves it", async () => {
  const p = tempProject();
  const stop = join(p.root, "stop-now");
  p.write("services/job.yml", JSON.stringify({ command: `while [ ! -f ${stop} ]; do sleep 0.05; done; exit 0`, restart: "on-failure" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const first = (await unitStatus(p.root, "job")).pid!;
  const watch = startWatch(p.root, ["--interval", "500ms"]);
  try {
    await watch.waitOutput(/watching 1 service in/, "watch to start");
    // Killed: watch restarts it, and is the parent of the new process.
    killGroup(first);
    const second = await waitFor(async () => {
      const s = await unitStatus(p.root, "job");
      return s.state === "running" && s.pid !== first && s.pid;
    }, "watch to restart job");
    // Wait on the event log, not `sv status`: status observing the exit first (it is not the parent) would race watch.
    Bun.write(stop, "");
    await waitFor(() => unitEvents(p.root, "job").some((e) => e.to === "completed"), "job to complete");
    const done = await unitStatus(p.root, "job");
    expect(done).toMatchObject({ state: "completed", exit_code: 0, restarts: 1, last_error: null });
    expect(unitEvents(p.root, "job").at(-1)).toEqual({ service: "job", from: "running", to: "completed", reason: "exited with code 0", pid: second as number });
    expect(watch.output()).not.toContain("job: restarting: exited with code 0");
  } finally {
    expect(await watch.stop()).toBe(130);
  }
});
