// Log rotation in place while a real detached process keeps writing through its O_APPEND fd.
import { afterEach, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logSequence, rotatedPath } from "../src/runtime/logs/files.ts";
import { followLog } from "../src/runtime/logs/follow.ts";
import { rotateLog } from "../src/runtime/logs/rotate.ts";
import { BUN, FIXTURES, isAlive, waitFor } from "./helpers/project.ts";

const dirs: string[] = [];
const writers: number[] = [];
afterEach(() => {
  for (const pid of writers.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(base = "/tmp"): string {
  const dir = mkdtempSync(join(base, "sv-rotate-"));
  dirs.push(dir);
  return dir;
}

/** The counter fixture, detached in its own session like a service, its stdout+stderr appended to `log`. */
function startCounter(log: string, stopFile: string) {
  const fd = openSync(log, "a");
  const proc = Bun.spawn([BUN, join(FIXTURES, "counter.ts"), stopFile], { stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  writers.push(proc.pid);
  return proc;
}

const isTmpfs = (dir: string) => readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === dir && l.split(" ")[2] === "tmpfs");

/** Rotate `log` `times` times (16 KiB threshold, nothing deleted) while the counter writes; polls a follower throughout. */
async function rotateWhileWriting(dir: string, times: number) {
  const log = join(dir, "api.log");
  const stop = join(dir, "stop");
  const proc = startCounter(log, stop);
  await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes("\n"), "the counter's first line");
  const follower = followLog(log, { offset: 0, ino: statSync(log).ino, partial: Buffer.alloc(0) });
  const followed: string[] = follower.poll();
  const methods = new Set<string>();
  let rotations = 0;
  const deadline = Date.now() + 20_000;
  while (rotations < times) {
    const r = rotateLog(log, 16 * 1024, 1000);
    if (r.rotated) (rotations++, methods.add(r.method));
    else await Bun.sleep(1);
    followed.push(...follower.poll());
    if (Date.now() > deadline) throw new Error(`only ${rotations} rotations in 20 s`);
  }
  writeFileSync(stop, "");
  expect(await proc.exited).toBe(0);
  await waitFor(() => (followed.push(...follower.poll()), followed.at(-1)?.startsWith("done")), "the follower to see the last line");
  follower.close();
  const files = logSequence(log);
  const stream = files.map((f) => readFileSync(f, "utf8")).join("");
  const last = Number(/done (\d+)\n$/.exec(stream)![1]);
  return { files, stream, last, followed, methods };
}

const expected = (last: number) => `${Array.from({ length: last }, (_, i) => `n=${i + 1}\n`).join("")}done ${last}\n`;

test("below the size limit, nothing happens", () => {
  const dir = tempDir();
  const log = join(dir, "api.log");
  expect(rotateLog(log, 100, 3)).toEqual({ rotated: false });
  writeFileSync(log, "short\n");
  expect(rotateLog(log, 100, 3)).toEqual({ rotated: false });
  expect(existsSync(rotatedPath(log, 1))).toBe(false);
});

test("rotated files shift up to `keep`; the oldest is deleted, and so are any beyond a lowered keep", () => {
  const dir = tempDir();
  const log = join(dir, "api.log");
  for (const gen of [1, 2, 3, 4]) {
    writeFileSync(log, `generation ${gen}\n`);
    expect(rotateLog(log, 5, 3)).toMatchObject({ rotated: true });
    expect(readFileSync(log, "utf8")).toBe("");
  }
  expect([1, 2, 3].map((n) => readFileSync(rotatedPath(log, n), "utf8"))).toEqual(["generation 4\n", "generation 3\n", "generation 2\n"]);
  expect(existsSync(rotatedPath(log, 4))).toBe(false);

  writeFileSync(log, "generation 5\n");
  rotateLog(log, 5, 1);
  expect(logSequence(log)).toEqual([rotatedPath(log, 1), log]);
  expect(readFileSync(rotatedPath(log, 1), "utf8")).toBe("generation 5\n");
});

test("keep 0 empties the log without keeping a copy", () => {
  const dir = tempDir();
  const log = join(dir, "api.log");
  writeFileSync(log, "x".repeat(100));
  expect(rotateLog(log, 10, 0)).toMatchObject({ rotated: true });
  expect(readFileSync(log, "utf8")).toBe("");
  expect(existsSync(rotatedPath(log, 1))).toBe(false);
});

test("a log being rotated by another sv is skipped, not rotated twice", async () => {
  const dir = tempDir();
  const log = join(dir, "api.log");
  writeFileSync(log, "x".repeat(100));
  const holder = Bun.spawn(["flock", "--exclusive", "--close", log, "sh", "-c", "echo locked; exec sleep 60"], { stdout: "pipe", detached: true });
  writers.push(holder.pid);
  const reader = holder.stdout.getReader();
  await reader.read(); // "locked"
  expect(rotateLog(log, 10, 3)).toEqual({ rotated: false });
  process.kill(-holder.pid, "SIGKILL");
  await holder.exited;
  expect(rotateLog(log, 10, 3)).toMatchObject({ rotated: true });
});

test("rotating 40 times under a writer that never pauses loses and duplicates nothing (ext4: collapse range)", async () => {
  const dir = tempDir("/tmp");
  const { stream, last, followed, methods, files } = await rotateWhileWriting(dir, 40);
  expect(methods).toEqual(new Set(["collapse"]));
  expect(files.length).toBe(41);
  // The rotated files and the log, oldest first, are exactly the stream the process wrote, in order.
  expect(stream).toBe(expected(last));
  // A follower polling through every rotation saw each line exactly once.
  expect(followed.join("\n") + "\n").toBe(expected(last));
}, 60_000);

test.skipIf(!existsSync("/dev/shm") || !isTmpfs("/dev/shm"))(
  "where collapse is unsupported (tmpfs), copy-truncate never duplicates; lines are lost only at a rotation boundary",
  async () => {
    const dir = tempDir("/dev/shm");
    const { stream, files, followed, methods } = await rotateWhileWriting(dir, 40);
    expect(methods).toEqual(new Set(["copy-truncate"]));
    const perFile = files.map((f) => readFileSync(f, "utf8").split("\n").filter((l) => l.startsWith("n=")).map((l) => Number(l.slice(2))));
    const all = perFile.flat();
    expect(new Set(all).size).toBe(all.length);
    // Inside each file the numbers are consecutive: a gap can only sit between two files.
    for (const nums of perFile) nums.forEach((n, i) => i > 0 && expect(n).toBe(nums[i - 1]! + 1));
    expect(all).toEqual([...all].sort((a, b) => a - b));
    const lost = all.at(-1)! - all.length;
    console.error(`copy-truncate on tmpfs: ${lost} of ${all.at(-1)} lines lost over 40 rotations`);
    expect(followed.join("\n") + "\n").toBe(stream);
  },
  60_000,
);

// A poll reads to the end the log has when it looks, at most 16 MiB. It chased the end before: under a
// writer faster than the reader (a loaded CI machine, or a service like `yes`) that poll never returned and
// held every line until the OOM killer ended the test run.
test("a writer faster than the follower is followed a poll at a time, at most 16 MiB each, every line once", async () => {
  const dir = tempDir();
  const log = join(dir, "api.log");
  writeFileSync(log, "");
  const follower = followLog(log);
  const fd = openSync(log, "a");
  const total = 256 << 20; // 4 Mi lines of 64 bytes, written as fast as a pipe goes
  const writer = Bun.spawn(["/bin/sh", "-c", `yes ${"x".repeat(63)} | head -c ${total}`], { stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  writers.push(writer.pid);
  await waitFor(() => statSync(log).size >= 1 << 20, "the writer to be under way");
  const first = follower.poll();
  expect(first.length).toBeGreaterThan(0);
  expect(first.length * 64).toBeLessThanOrEqual(16 << 20);
  expect(await writer.exited).toBe(0);
  let lines = first.length;
  for (let got = follower.poll(); got.length > 0; got = follower.poll()) {
    expect(got.length * 64).toBeLessThanOrEqual(16 << 20);
    expect(got.every((l) => l === "x".repeat(63))).toBe(true);
    lines += got.length;
  }
  expect(lines).toBe(total / 64);
  follower.close();
}, 60_000);

test("the writer is still alive and writing to the same file after rotations", async () => {
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "api.log");
  const stop = join(dir, "stop");
  const proc = startCounter(log, stop);
  await waitFor(() => existsSync(log) && readFileSync(log, "utf8").length > 32 * 1024, "32 KiB of output");
  expect(rotateLog(log, 16 * 1024, 2)).toMatchObject({ rotated: true });
  await waitFor(() => readFileSync(log, "utf8").length > 32 * 1024, "the log to grow again after rotation");
  expect(isAlive(proc.pid)).toBe(true);
  writeFileSync(stop, "");
  expect(await proc.exited).toBe(0);
});
