// runtime/identity and runtime/signals against real processes: /proc parsing, zombies, group stops.
import { expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { groupMembers, isSameProcess, readStat } from "../../src/runtime/identity.ts";
import { isOurGroup, killGroup, stopGracefully } from "../../src/runtime/signals.ts";
import { fixture, isAlive, killAfterTest, tempProject, waitFor } from "../helpers/project.ts";

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
