// runtime/identity and runtime/signals against real processes: /proc parsing, zombies, group stops.
import { expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { groupMembers, isDead, isSameProcess, readStat } from "../../src/runtime/identity.ts";
import { isPortFree } from "../../src/runtime/ports.ts";
import { isOurGroup, killGroup, stopGracefully } from "../../src/runtime/signals.ts";
import { BUN, fixture, freePort, isAlive, killAfterTest, tempProject, waitFor } from "../helpers/project.ts";

/** Start argv in its own session (like a service); killed after the test. */
function detached(argv: string[], cwd?: string) {
  const proc = Bun.spawn(argv, { cwd, stdio: ["ignore", "pipe", "ignore"], detached: true });
  killAfterTest(proc.pid);
  return proc;
}

async function firstLine(proc: { stdout: ReadableStream<Uint8Array> }): Promise<string> {
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0]!;
}

test("readStat parses fields after the last ')' even when the command name holds ') ('", async () => {
  const p = tempProject();
  const odd = join(p.root, "a) (b c");
  symlinkSync("/bin/sleep", odd);
  const proc = detached([odd, "1000"]);
  await waitFor(() => readStat(proc.pid)?.sid === proc.pid, "setsid");
  const stat = readStat(proc.pid)!;
  expect(stat).toMatchObject({ pid: proc.pid, ppid: process.pid, pgid: proc.pid, sid: proc.pid });
  expect(stat.state).toMatch(/^[RS]$/);
  expect(stat.startTicks).toBeGreaterThan(0);
  expect(readStat(999_999_999)).toBeNull();
});

test("isSameProcess: the live process with its start time; not another start time, not a zombie, not null", async () => {
  // The exec'd sleep never waits for its child, so the child stays a zombie while the parent lives.
  const proc = detached(["sh", "-c", "sleep 0 & echo $!; exec sleep 1000"]);
  const zombie = Number(await firstLine(proc));
  await waitFor(() => readStat(zombie)?.state === "Z", "the child to become a zombie");
  const me = readStat(proc.pid)!;
  expect(isSameProcess(proc.pid, me.startTicks)).toBe(true);
  expect(isSameProcess(proc.pid, me.startTicks + 1)).toBe(false);
  expect(isSameProcess(zombie, readStat(zombie)!.startTicks)).toBe(false);
  expect(isSameProcess(null, me.startTicks)).toBe(false);
  expect(isSameProcess(proc.pid, null)).toBe(false);
});

test("stopGracefully: a group that stops on the signal is not forced, and every member goes", async () => {
  const p = tempProject();
  const pids = join(p.root, "children");
  const proc = detached(["sh", fixture("forker.sh"), pids]);
  expect(await firstLine(proc)).toBe("ready");
  const ticks = readStat(proc.pid)!.startTicks;
  const members = groupMembers(proc.pid, 0);
  expect(members.length).toBe(4);
  expect(isOurGroup(proc.pid, ticks)).toBe(true);
  const r = await stopGracefully(proc.pid, ticks, "SIGTERM", 10_000);
  expect({ forced: r.forced, wasRunning: r.wasRunning }).toEqual({ forced: false, wasRunning: true });
  for (const m of members) expect(isAlive(m)).toBe(false);
  // (isOurGroup may still say yes while unreaped zombies keep the group id: signalling them is harmless.)
  expect(isAlive(proc.pid)).toBe(false);
});

test("stopGracefully: a group that ignores the signal is SIGKILLed after the timeout", async () => {
  const proc = detached(["sh", fixture("ignore-term.sh")]);
  expect(await firstLine(proc)).toBe("ready");
  const ticks = readStat(proc.pid)!.startTicks;
  const members = groupMembers(proc.pid, 0);
  const r = await stopGracefully(proc.pid, ticks, "SIGTERM", 200);
  expect({ forced: r.forced, wasRunning: r.wasRunning }).toEqual({ forced: true, wasRunning: true });
  expect(r.durationMs).toBeGreaterThanOrEqual(200);
  for (const m of members) expect(isAlive(m)).toBe(false);
});

test("a group whose leader died is still ours while members live, and is killed whole", async () => {
  const p = tempProject();
  const pids = join(p.root, "children");
  const proc = detached(["sh", fixture("forker.sh"), pids]);
  expect(await firstLine(proc)).toBe("ready");
  const ticks = readStat(proc.pid)!.startTicks;
  const members = groupMembers(proc.pid, 0).filter((m) => m !== proc.pid);
  process.kill(proc.pid, "SIGKILL");
  await proc.exited;
  expect(isOurGroup(proc.pid, ticks)).toBe(true);
  await killGroup(proc.pid, ticks);
  for (const m of members) expect(isAlive(m)).toBe(false);
});

test("a pid with another start time is not our group and is never signalled", async () => {
  const proc = detached(["sleep", "1000"]);
  await waitFor(() => readStat(proc.pid)?.sid === proc.pid, "setsid");
  const ticks = readStat(proc.pid)!.startTicks;
  expect(isOurGroup(proc.pid, ticks - 1)).toBe(false);
  expect(await stopGracefully(proc.pid, ticks - 1, "SIGTERM", 100)).toEqual({ forced: false, wasRunning: false, durationMs: 0 });
  await killGroup(proc.pid, ticks - 1);
  expect(isAlive(proc.pid)).toBe(true);
});

// A bun whose main thread exits (pthread_exit) while its other threads run on, still listening: what a
// multi-threaded service looks like in the middle of its exit. It survives SIGTERM (a handler, not an ignore).
const HALF_EXITED = `
import { dlopen, FFIType } from "bun:ffi";
const port = Number(process.argv[2]);
Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
process.on("SIGTERM", () => {});
console.log("ready");
dlopen("libc.so.6", { pthread_exit: { args: [FFIType.ptr], returns: FFIType.void } }).symbols.pthread_exit(null);
`;

test("a process whose main thread is a zombie while another thread runs is alive, and a stop waits for all of it", async () => {
  const p = tempProject({ "half-exited.ts": HALF_EXITED });
  const port = freePort();
  const proc = detached([BUN, join(p.root, "half-exited.ts"), String(port)]);
  expect(await firstLine(proc)).toBe("ready");
  await waitFor(() => readStat(proc.pid)?.state === "Z", "the main thread to exit");
  const stat = readStat(proc.pid)!;
  expect(isPortFree(port)).toBe(false);
  expect(isDead(stat)).toBe(false);
  expect(isSameProcess(proc.pid, stat.startTicks)).toBe(true);
  expect(groupMembers(proc.pid, 0)).toEqual([proc.pid]);
  // The stop signal is caught: the stop must wait out its timeout and kill, not take the zombie thread for the end.
  const r = await stopGracefully(proc.pid, stat.startTicks, "SIGTERM", 200);
  expect({ forced: r.forced, wasRunning: r.wasRunning }).toEqual({ forced: true, wasRunning: true });
  expect(isPortFree(port)).toBe(true);
  expect(isDead(readStat(proc.pid))).toBe(true);
});
