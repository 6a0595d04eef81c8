// runtime/spawn's gated relay against real processes: what it records when its gate closes or a signal
// comes before release, what the service inherits of its traps, and what it refuses to start at all.
import { expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseExitRecord, spawnGated, type Gated } from "../../src/runtime/spawn.ts";
import { killAfterTest, tempProject, waitFor } from "../helpers/project.ts";

/** A gated relay running `script` under /bin/sh; `ran` says whether the script started. */
async function gated(script: string) {
  const p = tempProject();
  const marker = join(p.root, "ran");
  const g = await spawnGated({
    argv: ["/bin/sh", "-c", `echo ran >>${marker}; ${script}`],
    cwd: p.root,
    env: { PATH: process.env.PATH },
    logPath: join(p.root, "log/unit.log"),
    exitPrefix: join(p.root, "run/unit"),
  });
  killAfterTest(g.pid);
  const record = () => {
    const file = join(p.root, `run/unit.${g.pid}.exit`);
    return existsSync(file) ? readFileSync(file, "utf8") : null;
  };
  return { g, record, ran: () => existsSync(marker), log: () => readFileSync(join(p.root, "log/unit.log"), "utf8") };
}

const ended = async (g: Gated) => {
  await g.exited;
};

test.each(["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"] as const)("%s before release, even at once: the relay records unborn and never runs the service", async (signal) => {
  const r = await gated("exec sleep 1000");
  process.kill(-r.g.pid, signal);
  await ended(r.g);
  expect(r.record()).toBe("unborn\n");
  await r.g.release();
  expect(r.ran()).toBe(false);
});

test("a closed gate: the relay records unborn; abort says the service never ran, a release after it opens nothing", async () => {
  const r = await gated("exec sleep 1000");
  expect(r.g.abort()).toBe(true);
  await r.g.release();
  await ended(r.g);
  expect(r.record()).toBe("unborn\n");
  expect(r.ran()).toBe(false);
  expect(r.g.abort()).toBe(true);
});

test("an abort after release takes nothing back and says so", async () => {
  const r = await gated("exit 3");
  await r.g.release();
  expect(r.g.abort()).toBe(false);
  await ended(r.g);
  expect(r.record()).toBe("3\n");
  expect(r.ran()).toBe(true);
});

test("the service inherits none of the relay's traps: no signal ignored, none caught", async () => {
  const r = await gated("exec cat /proc/self/status");
  await r.g.release();
  await ended(r.g);
  expect(r.record()).toBe("0\n");
  const masks = r.log().split("\n").filter((l) => /^Sig(Ign|Cgt):/.test(l));
  expect(masks).toEqual(["SigIgn:\t0000000000000000", "SigCgt:\t0000000000000000"]);
});

test("once released, a stop signal reaches the service, and the relay lives on to record its death", async () => {
  const r = await gated("exec sleep 1000");
  await r.g.release();
  await waitFor(() => r.ran(), "the service to run");
  process.kill(-r.g.pid, "SIGTERM");
  await ended(r.g);
  expect(parseExitRecord(r.record()!)).toEqual({ code: null, signal: "SIGTERM" });
});

test.each([
  ["/nonexistent/server", "command not found"],
  ["no-such-command-anywhere", "command not found"],
  ["ROOT/noexec.sh", "permission denied"],
  ["ROOT", "permission denied"],
  ["ROOT/garbage", "not an executable program (missing #! line?)"],
])("spawnGated refuses %s, in words, and starts nothing", async (program, why) => {
  const p = tempProject({ "noexec.sh": "#!/bin/sh\necho hi\n", garbage: "not a program\n" });
  chmodSync(join(p.root, "garbage"), 0o755);
  const argv = [program.replace("ROOT", p.root)];
  const start = () => spawnGated({ argv, cwd: p.root, env: { PATH: process.env.PATH }, logPath: join(p.root, "log/unit.log"), exitPrefix: join(p.root, "run/unit") });
  await expect(start()).rejects.toThrow(`cannot start ${argv[0]}: ${why}`);
  expect(existsSync(join(p.root, "run"))).toBe(false);
});

test("spawnGated starts a script with #! and a program found on PATH", async () => {
  for (const argv of [[`${import.meta.dir}/../fixtures/forker.sh`], ["true"]]) {
    const p = tempProject();
    const g = await spawnGated({ argv, cwd: p.root, env: { PATH: process.env.PATH }, logPath: join(p.root, "log/unit.log"), exitPrefix: join(p.root, "run/unit") });
    killAfterTest(g.pid);
    expect(g.abort()).toBe(true);
    await g.exited;
  }
});

test.each([
  ["0\n", { code: 0, signal: null }],
  ["3\n", { code: 3, signal: null }],
  ["128\n", { code: 128, signal: null }],
  ["143\n", { code: null, signal: "SIGTERM" }],
  // The shell's status for a death by SIGINT; a service's own `exit 130` reads the same (sh cannot tell them apart).
  ["130\n", { code: null, signal: "SIGINT" }],
  ["255\n", { code: 255, signal: null }],
  ["unborn\n", { unborn: true }],
  ["", null],
  ["12a\n", null],
] as [string, unknown][])("parseExitRecord(%j)", (text, expected) => {
  expect(parseExitRecord(text)).toEqual(expected as never);
});
