// The exit watch of `sv watch`: real processes, each watched through a pidfd in Bun's event loop.
import { expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { ExitWatch, hasPidfd } from "../../src/runtime/exits.ts";
import { readStat } from "../../src/runtime/identity.ts";

const target = (pid: number) => ({ pid, ticks: readStat(pid)!.startTicks });
/** Our open pidfds (anon_inode:[pidfd], or pidfd: on kernels with pidfs). */
const openPidfds = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).includes("pidfd");
    } catch {
      return false;
    }
  }).length;
const sleeper = () => Bun.spawn(["sleep", "30"], { stdio: ["ignore", "ignore", "ignore"] });

test("pidfds are available here (the fast path these tests exercise)", () => {
  expect(hasPidfd()).toBe(true);
});

test("an exit calls onExit at once and is listed; the others are not", async () => {
  const a = sleeper();
  const b = sleeper();
  let calls = 0;
  let notified = () => {};
  const exited = new Promise<void>((resolve) => (notified = resolve));
  const watch = new ExitWatch(() => {
    calls++;
    notified();
  });
  watch.sync(new Map([["a", target(a.pid)], ["b", target(b.pid)]]));
  await Bun.sleep(50);
  expect({ calls, exited: watch.exited() }).toEqual({ calls: 0, exited: [] });
  const t0 = performance.now();
  a.kill("SIGKILL");
  await exited;
  expect(performance.now() - t0).toBeLessThan(100);
  expect(watch.exited()).toEqual(["a"]);
  watch.close();
  b.kill("SIGKILL");
  await b.exited;
  await Bun.sleep(50);
  expect(calls).toBe(1);
});

test("a process already gone, or a pid now held by another process, counts as exited", async () => {
  const gone = sleeper();
  const t = target(gone.pid);
  gone.kill("SIGKILL");
  await gone.exited;
  const live = sleeper();
  let calls = 0;
  const watch = new ExitWatch(() => calls++);
  watch.sync(new Map([["gone", t], ["reused", { pid: live.pid, ticks: target(live.pid).ticks - 1 }]]));
  await Bun.sleep(20);
  expect(watch.exited().sort()).toEqual(["gone", "reused"]);
  expect(calls).toBeGreaterThan(0);
  watch.close();
  live.kill("SIGKILL");
});

test("sync keeps what still matches, drops the rest without a call, and close leaves no fd open", async () => {
  const before = openPidfds();
  const a = sleeper();
  const b = sleeper();
  let calls = 0;
  const watch = new ExitWatch(() => calls++);
  watch.sync(new Map([["a", target(a.pid)], ["b", target(b.pid)]]));
  await Bun.sleep(20);
  watch.sync(new Map([["a", target(a.pid)]]));
  b.kill("SIGKILL");
  await b.exited;
  await Bun.sleep(50);
  expect({ calls, exited: watch.exited() }).toEqual({ calls: 0, exited: [] });
  watch.close();
  a.kill("SIGKILL");
  await a.exited;
  await Bun.sleep(50);
  expect(calls).toBe(0);
  expect(openPidfds()).toBeLessThanOrEqual(before);
});

test("one exit after another, and several at once: each is noticed (the wait is armed again after each)", async () => {
  const kids = [sleeper(), sleeper(), sleeper(), sleeper()];
  let calls = 0;
  const watch = new ExitWatch(() => calls++);
  watch.sync(new Map(kids.map((k, i) => [`k${i}`, target(k.pid)])));
  const waitExited = async (n: number) => {
    const deadline = performance.now() + 2000;
    while (watch.exited().length < n && performance.now() < deadline) await Bun.sleep(2);
    return watch.exited().sort();
  };
  kids[0]!.kill("SIGKILL");
  expect(await waitExited(1)).toEqual(["k0"]);
  kids[1]!.kill("SIGKILL");
  expect(await waitExited(2)).toEqual(["k0", "k1"]);
  kids[2]!.kill("SIGKILL");
  kids[3]!.kill("SIGKILL");
  expect(await waitExited(4)).toEqual(["k0", "k1", "k2", "k3"]);
  expect(calls).toBeGreaterThanOrEqual(3);
  watch.close();
});
