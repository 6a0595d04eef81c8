// The store lock from the outside: contention with --no-wait-lock, release on death, and never held while
// sv waits on a process or a probe.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { readStat } from "../../src/runtime/identity.ts";
import { BUN, fixture, isAlive, killAfterTest, status, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

function readlinkSafe(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** Another process holding the project's store lock through sv's own flock. */
async function holdLock(root: string) {
  const proc = Bun.spawn([BUN, fixture("hold-lock.ts"), root], { stdio: ["ignore", "pipe", "inherit"] });
  killAfterTest(proc.pid);
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toBe("locked\n");
  return proc;
}

test("with the lock held elsewhere, --no-wait-lock exits 3 with a clear message; status still answers", async () => {
  const p = tempProject();
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  const holder = await holdLock(p.root);

  for (const args of [["up", "--no-wait-lock"], ["down", "--no-wait-lock"], ["restart", "db", "--no-wait-lock"]]) {
    const r = await sv(p.root, args);
    expect(r.stdout).toBe("");
    expect(r.stderr).toStartWith(`✘ the store is locked by pid ${holder.pid} `);
    expect(r.stderr).toEndWith("\n  hint: another sv is changing state; retry, or drop --no-wait-lock to wait\n");
    expect(r.stderr.split("\n")).toHaveLength(3);
    expect(r.code).toBe(3);
  }
  expect(existsSync(join(p.root, ".sv/log/db.log"))).toBe(false);
  // Reading needs no lock.
  const s = await sv(p.root, ["status", "--no-wait-lock"]);
  expect(s.code).toBe(0);
  expect(s.stdout).toStartWith("NAME");

  // The kernel drops the lock with its holder.
  holder.kill("SIGKILL");
  await holder.exited;
  const up = await sv(p.root, ["up", "--no-wait-lock"]);
  expect(up.code).toBe(0);
  expect((await unitStatus(p.root, "db")).state).toBe("running");
});

test("without --no-wait-lock, sv waits for the lock and then goes on", async () => {
  const p = tempProject();
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  const holder = await holdLock(p.root);
  const up = svBackground(p.root, ["up"]);
  // Wait until it has the lock file open (it is polling for the lock): it cannot have spawned anything yet.
  const lockFile = join(p.root, ".sv/state/lock");
  const hasLockOpen = () => {
    try {
      return readdirSync(`/proc/${up.pid}/fd`).some((fd) => readlinkSafe(`/proc/${up.pid}/fd/${fd}`) === lockFile);
    } catch {
      return false;
    }
  };
  await waitFor(hasLockOpen, "sv up to wait for the lock");
  expect(existsSync(join(p.root, ".sv/log/db.log"))).toBe(false);
  expect(isAlive(up.pid)).toBe(true);
  holder.kill("SIGKILL");
  const r = await up.done;
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^✓ db running \(pid \d+\) in \d+ ms\n$/);
});

test("sv status, up and down of other services answer while sv up waits on a slow service", async () => {
  const p = tempProject();
  // slow becomes healthy only when the test says so.
  p.write("services/slow.yml", JSON.stringify({ command: ["sleep", "1000"], health_check: { type: "command", command: `test -f ${p.root}/go`, interval: "100ms", retries: 300 } }));
  p.write("services/other.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  const up = svBackground(p.root, ["up", "slow"]);
  await waitFor(async () => (await status(p.root)).find((s) => s.name === "slow")?.state === "starting", "slow to be starting");

  // All of these need the lock at some point; --no-wait-lock makes them fail at once if it were held.
  const st = await sv(p.root, ["status", "--json", "--no-wait-lock"]);
  expect(st.code).toBe(0);
  expect(JSON.parse(st.stdout).services.map((s: { name: string; state: string }) => [s.name, s.state])).toEqual([
    ["other", "stopped"],
    ["slow", "starting"],
  ]);
  const upOther = await sv(p.root, ["up", "other", "--no-wait-lock"]);
  expect(upOther.stderr).toBe("");
  expect(upOther.code).toBe(0);
  const downOther = await sv(p.root, ["down", "other", "--no-wait-lock"]);
  expect(downOther).toEqual({ code: 0, stdout: "✓ other stopped\n", stderr: "" });

  // The first sv up is still waiting (its unit alive, still starting), and finishes once slow is ready.
  const waiting = await unitStatus(p.root, "slow");
  expect(waiting.state).toBe("starting");
  expect(isAlive(waiting.pid!)).toBe(true);
  expect(isAlive(up.pid)).toBe(true);
  p.write("go", "");
  const r = await up.done;
  expect(r.code).toBe(0);
  const slow = await unitStatus(p.root, "slow");
  expect(slow.state).toBe("running");
  expect(isAlive(slow.pid!)).toBe(true);
  // The process status shows is the one sv up reported, in the unit's own process group.
  expect(r.stdout).toMatch(new RegExp(`^✓ slow running \\(pid ${slow.pid}\\) in [\\d.]+ m?s\\n$`));
  expect(readStat(slow.pid!)!.pgid).toBe(readStat(waiting.pid!)!.pgid);
});

test("the lock is free while sv down waits for a service that ignores SIGTERM", async () => {
  const p = tempProject();
  p.write("services/stubborn.yml", JSON.stringify({ command: ["sh", fixture("ignore-term.sh")], stop_timeout: "20s" }));
  p.write("services/other.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  expect((await sv(p.root, ["up", "stubborn"])).code).toBe(0);
  await waitFor(() => existsSync(join(p.root, ".sv/log/stubborn.log")) && Bun.file(join(p.root, ".sv/log/stubborn.log")).size > 0, "stubborn to be ready");
  const { pid } = await unitStatus(p.root, "stubborn");
  const down = svBackground(p.root, ["down", "stubborn"]);
  await waitFor(async () => (await unitStatus(p.root, "stubborn")).state === "stopping", "stubborn to be stopping");

  const upOther = await sv(p.root, ["up", "other", "--no-wait-lock"]);
  expect(upOther.stderr).toBe("");
  expect(upOther.code).toBe(0);
  expect(isAlive(down.pid)).toBe(true);
  // Done waiting: kill the stubborn group ourselves (the unit's group, led by its relay); the waiting sv down sees it gone and finishes.
  const group = readStat(pid!)!.pgid;
  expect(group).toBeGreaterThan(1);
  process.kill(-group, "SIGKILL");
  const r = await down.done;
  expect(r).toEqual({ code: 0, stdout: "✓ stubborn stopped\n", stderr: "" });
});
