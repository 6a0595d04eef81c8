// Real processes: own session and group (led by the unit's exit relay), surviving sv and the terminal,
// whole-group stops, SIGKILL after stop_timeout, an exit status known to a later sv, and a recorded group
// whose leader's pid was reused by an unrelated process.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectPaths } from "../../src/paths.ts";
import { readStat } from "../../src/runtime/identity.ts";
import { readState, withState } from "../../src/store/store.ts";
import { BUN, SV, fixture, freePort, isAlive, isListening, killAfterTest, status, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

const log = (root: string, unit: string) => {
  const file = join(root, ".sv/log", `${unit}.log`);
  return existsSync(file) ? readFileSync(file, "utf8") : "";
};

test("a service runs in its own session and process group, and outlives the sv that started it", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/db.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port }));
  const up = Bun.spawn([SV, "up"], { cwd: p.root, env: { ...process.env, NO_COLOR: "1", CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
  expect(await up.exited).toBe(0);
  const { pid } = await unitStatus(p.root, "db");
  const stat = readStat(pid!)!;
  // It runs under its exit relay, which leads the session and the group.
  const relay = readStat(stat.ppid)!;
  expect({ sid: stat.sid, pgid: stat.pgid }).toEqual({ sid: relay.pid, pgid: relay.pid });
  expect({ sid: relay.sid, pgid: relay.pgid }).toEqual({ sid: relay.pid, pgid: relay.pid });
  // The store names both: the service's pid (what status shows), the relay's group and start time.
  expect(readState(projectPaths(p.root)).units.db!.handle).toEqual({ kind: "process", pid: pid!, pgid: relay.pid, ticks: relay.startTicks, relay: true });
  // The relay's parent is no longer the sv that spawned it (that one has exited).
  expect(relay.ppid).not.toBe(up.pid);
  expect(isAlive(up.pid)).toBe(false);
  expect(await isListening(port)).toBe(true);
  expect(log(p.root, "db")).toBe(`ready on ${port}\n`);
});

test("a service survives the terminal closing: sv up inside tmux, then kill the tmux server", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/db.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port }));
  const socket = `sv-test-${process.pid}-${port}`;
  const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", socket, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  // A real terminal: sv up draws its listr2 list on the tty, then the shell keeps the session alive.
  // The control is an ordinary background job of that shell: the hangup must kill it, or this proves nothing.
  const control = `${BUN} ${fixture("tcp-server.ts")} ${freePort()} & echo $! > ${p.root}/control.pid`;
  const script = `cd ${p.root} || exit 1; ${control}; ${SV} up --root ${p.root}; echo $? > ${p.root}/up.rc; exec sleep 1000`;
  const started = tmux("new-session", "-d", "-s", "sv", "-c", p.root, "-x", "120", "-y", "30", "env", "-u", "CI", "TERM=xterm-256color", "sh", "-c", script);
  expect(started.exitCode).toBe(0);
  try {
    await waitFor(() => existsSync(join(p.root, "up.rc")) && readFileSync(join(p.root, "up.rc"), "utf8").endsWith("\n"), "sv up in tmux finished");
    expect(readFileSync(join(p.root, "up.rc"), "utf8")).toBe("0\n");
    const panePid = Number(tmux("display-message", "-p", "-t", "sv", "#{pane_pid}").stdout.toString().trim());
    expect(isAlive(panePid)).toBe(true);
    const controlPid = Number(readFileSync(join(p.root, "control.pid"), "utf8"));
    killAfterTest(controlPid);
    expect(isAlive(controlPid)).toBe(true);
    const { pid } = await unitStatus(p.root, "db");

    expect(tmux("kill-server").exitCode).toBe(0);
    // The pane's shell and its background job got SIGHUP and died with the terminal; the service did not.
    await waitFor(() => !isAlive(panePid) && !isAlive(controlPid), "the tmux pane's shell and the control to die");
    expect(isAlive(pid!)).toBe(true);
    expect(await isListening(port)).toBe(true);
    expect(await unitStatus(p.root, "db")).toMatchObject({ state: "running", pid });
  } finally {
    tmux("kill-server");
  }
});

test("sv down leaves none of a service's background grandchildren behind", async () => {
  const p = tempProject();
  const pidsFile = join(p.root, "children");
  p.write("services/forker.yml", JSON.stringify({ command: ["sh", fixture("forker.sh"), pidsFile] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  await waitFor(() => existsSync(pidsFile), "forker to write its children's pids");
  const { pid } = await unitStatus(p.root, "forker");
  const group = readStat(pid!)!.pgid;
  const children = readFileSync(pidsFile, "utf8").trim().split(" ").map(Number);
  expect(children).toHaveLength(3);
  for (const c of children) {
    expect(isAlive(c)).toBe(true);
    expect(readStat(c)!.pgid).toBe(group);
  }
  // One of them was orphaned through a subshell: its parent is no longer the service.
  expect(children.filter((c) => readStat(c)!.ppid !== pid)).toHaveLength(1);

  const down = await sv(p.root, ["down"]);
  expect(down).toEqual({ code: 0, stdout: "✓ forker stopped\n", stderr: "" });
  for (const c of [group, pid!, ...children]) expect(isAlive(c)).toBe(false);
});

test("a service that ignores SIGTERM is killed with SIGKILL after stop_timeout, and the message says so", async () => {
  const p = tempProject();
  p.write("services/stubborn.yml", JSON.stringify({ command: ["sh", fixture("ignore-term.sh")], stop_timeout: "300ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  await waitFor(() => log(p.root, "stubborn") === "ready\n", "stubborn to ignore SIGTERM");
  const { pid } = await unitStatus(p.root, "stubborn");
  const down = await sv(p.root, ["down"]);
  expect(down).toEqual({ code: 0, stdout: "✓ stubborn stopped (stubborn did not stop within 300 ms after SIGTERM and was killed with SIGKILL)\n", stderr: "" });
  expect(isAlive(pid!)).toBe(false);
  expect(await unitStatus(p.root, "stubborn")).toMatchObject({ state: "stopped", pid: null });
});

test("a service that stops on SIGTERM is not reported as killed", async () => {
  const p = tempProject();
  p.write("services/polite.yml", JSON.stringify({ command: ["sleep", "1000"], stop_timeout: "10s" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  expect(await sv(p.root, ["down"])).toEqual({ code: 0, stdout: "✓ polite stopped\n", stderr: "" });
});

/**
 * Kill the unit `unit` of project `root` behind sv's back (its whole group, relay and all, so that no exit
 * is recorded) and put an unrelated process in the place of its group leader: the same pid when the kernel
 * lets us choose it (ns_last_pid, root only; retried, since other processes may take it first), otherwise
 * a fresh process written into the store's handle over the old pid, with the old start time left as it
 * was. Either way the store names a live process that is not the unit's.
 */
async function impostorFor(root: string, unit: string): Promise<number> {
  const leader = readState(projectPaths(root)).units[unit]!.handle!.pgid as number;
  process.kill(-leader, "SIGKILL");
  await waitFor(() => !existsSync(`/proc/${leader}`), `pid ${leader} to be reaped`);
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = Bun.spawnSync(["sh", fixture("take-pid.sh"), String(leader)], { stdio: ["ignore", "pipe", "pipe"] });
    const got = Number(r.stdout.toString().trim());
    if (r.exitCode !== 0 || !got) break;
    killAfterTest(got);
    // `$!` is printed right after the fork: wait for the child to be in its own session.
    await waitFor(() => readStat(got)?.sid === got, `pid ${got} to call setsid`);
    if (got === leader) return got;
    process.kill(got, "SIGKILL");
  }
  const other = Bun.spawn(["setsid", "sleep", "1000"], { stdio: ["ignore", "ignore", "ignore"] });
  killAfterTest(other.pid);
  await waitFor(() => readStat(other.pid)?.sid === other.pid, "the impostor to call setsid");
  await withState(projectPaths(root), (tx) => {
    const u = tx.unit(unit);
    u.handle = { ...u.handle!, pid: other.pid, pgid: other.pid };
  });
  return other.pid;
}

test("a service that ends after its sv exited: a later sv knows its exit status (the relay recorded it)", async () => {
  const p = tempProject();
  p.write("services/job.yml", JSON.stringify({ command: ["sh", "-c", `while [ ! -f ${p.root}/go ]; do sleep 0.02; done; exit 7`], restart: "no" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const group = readState(projectPaths(p.root)).units.job!.handle!.pgid as number;
  p.write("go", "");
  await waitFor(() => !isAlive(group), "the job's relay to exit");
  const r = await sv(p.root, ["status", "--json"]);
  expect(JSON.parse(r.stdout).services[0]).toMatchObject({ name: "job", state: "error", pid: null, exit_code: 7, last_error: "job exited with code 7" });
});

test("a recorded pid reused by an unrelated process is reported not running", async () => {
  const p = tempProject();
  p.write("services/victim.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const impostor = await impostorFor(p.root, "victim");
  const stat = readStat(impostor)!;
  // The impostor leads its own group, and the store names that group: signalling it would hit the impostor.
  expect({ pgid: stat.pgid, sid: stat.sid }).toEqual({ pgid: impostor, sid: impostor });
  expect(readState(projectPaths(p.root)).units.victim!.handle!.pgid).toBe(impostor);

  // Its relay died with it, before it could record anything: how it ended is unknown.
  const s = await unitStatus(p.root, "victim");
  expect({ state: s.state, pid: s.pid, last_error: s.last_error }).toEqual({ state: "error", pid: null, last_error: "victim ended (exit status unknown)" });
  expect((await sv(p.root, ["down"])).code).toBe(0);
  expect(isAlive(impostor)).toBe(true);
  expect(readStat(impostor)!.startTicks).toBe(stat.startTicks);
});

test("sv down never signals a recorded pid that now belongs to an unrelated process", async () => {
  const p = tempProject();
  p.write("services/victim.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no", stop_timeout: "300ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const impostor = await impostorFor(p.root, "victim");
  const ticks = readStat(impostor)!.startTicks;

  // Straight to down: the store still says running with that pid.
  const down = await sv(p.root, ["down"]);
  expect(down.code).toBe(0);
  expect(down.stdout).not.toContain("SIGKILL");
  expect(isAlive(impostor)).toBe(true);
  expect(readStat(impostor)!.startTicks).toBe(ticks);
  expect((await status(p.root)).map((s) => [s.name, s.state, s.pid])).toEqual([["victim", "stopped", null]]);
});

test("sv up over a recorded pid reused by an unrelated process starts a new one and leaves the impostor alone", async () => {
  const p = tempProject();
  p.write("services/victim.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const impostor = await impostorFor(p.root, "victim");
  const ticks = readStat(impostor)!.startTicks;

  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/^✓ victim running \(pid \d+\) in \d+ ms\n$/);
  const now = await unitStatus(p.root, "victim");
  expect(now.state).toBe("running");
  expect(now.pid).not.toBe(impostor);
  expect(isAlive(impostor)).toBe(true);
  expect(readStat(impostor)!.startTicks).toBe(ticks);
});
