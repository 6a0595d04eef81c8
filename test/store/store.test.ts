// The store under real concurrency: atomic writes, no lost updates, clear errors for mangled files.
import { beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectPaths } from "../../src/paths.ts";
import { readState, withState } from "../../src/store/store.ts";
import { newUnit, type Unit } from "../../src/store/unit.ts";
import { BUN, fixture, isAlive, killAfterTest, REPO, startTicksOf, status, SV, sv, tempProject, waitFor } from "../helpers/project.ts";

beforeAll(() => {
  if (existsSync(SV)) return;
  const build = Bun.spawnSync([BUN, "run", "build"], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] });
  if (build.exitCode !== 0) throw new Error("bun run build failed");
});

const PADDING_UNITS = 150;

/** A store big enough (~60 KB) that a non-atomic write would be seen half-done. */
async function bigStore(root: string): Promise<void> {
  await withState(projectPaths(root), (tx) => {
    for (let i = 0; i < PADDING_UNITS; i++) {
      const u = tx.unit(`pad${String(i).padStart(3, "0")}`);
      u.last_error = `padding ${"x".repeat(200)}`;
    }
  });
}

function writer(root: string, count: number, unit: string) {
  const proc = Bun.spawn([BUN, fixture("store-writer.ts"), root, String(count), unit], { stdio: ["ignore", "pipe", "pipe"] });
  killAfterTest(proc.pid);
  return proc;
}

test("a reader looping while writers loop never sees a torn file, and no update is lost", async () => {
  const p = tempProject();
  const paths = projectPaths(p.root);
  await bigStore(p.root);
  const writers = [writer(p.root, 60, "w0"), writer(p.root, 60, "w1"), writer(p.root, 60, "w2")];
  let running = true;
  const all = Promise.all(writers.map((w) => w.exited)).then(() => (running = false));
  let good = 0;
  const torn: string[] = [];
  const seen = new Set<number>();
  while (running) {
    try {
      const state = readState(paths);
      if (Object.keys(state.units).filter((n) => n.startsWith("pad")).length !== PADDING_UNITS) torn.push("padding units missing");
      else good++;
      seen.add((state.units.w0?.restarts ?? 0) + (state.units.w1?.restarts ?? 0) + (state.units.w2?.restarts ?? 0));
    } catch (e) {
      torn.push((e as Error).message);
    }
    await Bun.sleep(0);
  }
  await all;
  expect(writers.map((w) => w.exitCode)).toEqual([0, 0, 0]);
  expect(torn).toEqual([]);
  // The reader really ran while the store was changing.
  expect(good).toBeGreaterThan(0);
  expect(seen.size).toBeGreaterThan(1);
  const final = readState(paths).units;
  expect([final.w0!.restarts, final.w1!.restarts, final.w2!.restarts]).toEqual([60, 60, 60]);
});

test("a writer killed with SIGKILL mid-loop leaves a whole file and a free lock", async () => {
  const p = tempProject();
  const paths = projectPaths(p.root);
  await bigStore(p.root);
  const w = writer(p.root, 100_000, "w");
  // Let it get going, then kill it wherever it is.
  const reader = async () => {
    for (;;) {
      if ((readState(paths).units.w?.restarts ?? 0) >= 20) return;
      await Bun.sleep(5);
    }
  };
  await reader();
  w.kill("SIGKILL");
  await w.exited;
  const state = readState(paths);
  expect(Object.keys(state.units).filter((n) => n.startsWith("pad"))).toHaveLength(PADDING_UNITS);
  // The kernel dropped its flock: we get the lock without waiting.
  const n = await withState(paths, (tx) => ++tx.unit("w").restarts, { waitMs: 0 });
  expect(n).toBe(state.units.w!.restarts + 1);
  // Whatever temp file it left was overwritten and renamed by that write.
  expect(readdirSync(join(p.root, ".sv/state")).sort()).toEqual(["lock", "services.yml"]);
});

const HANDLE_MUST = "services.db.handle must be null or a mapping with a `kind` (and any pid above 1)";
// Pids far above any pid_max, so even a sv that signalled them could reach nothing.
const BROKEN: [string, string, string][] = [
  ["not YAML", "version: 2\nservices:\n  db: [unclosed\n", "not valid YAML (YAML Parse error: Unexpected token)"],
  ["not a mapping", "- a\n- b\n", "expected a mapping with `version` and `services`"],
  ["a scalar", "garbage {{{\n", "expected a mapping with `version` and `services`"],
  ["an unknown version", "version: 3\nservices: {}\n", "unknown version 3 (this sv reads versions 1 and 2; a newer sv may have written it)"],
  ["a version that is text", 'version: "2"\nservices: {}\n', 'unknown version "2" (this sv reads versions 1 and 2; a newer sv may have written it)'],
  ["services not a mapping", "version: 2\nservices: [1, 2]\n", "`services` must be a mapping"],
  ["a unit not a mapping", "version: 2\nservices:\n  db: 5\n", "services.db must be a mapping"],
  ["a misspelt state", "version: 2\nservices:\n  db:\n    state: runing\n", 'services.db.state "runing" is not a state'],
  ["a bad health", "version: 2\nservices:\n  db:\n    health: fine\n", 'services.db.health "fine" is not a health'],
  ["a bad wanted", "version: 2\nservices:\n  db:\n    wanted: maybe\n", "services.db.wanted must be up or down"],
  ["a handle that is not a mapping", "version: 2\nservices:\n  db:\n    state: running\n    handle: 999999991\n", HANDLE_MUST],
  ["a handle that is a list", "version: 2\nservices:\n  db:\n    state: running\n    handle: [process, 999999991]\n", HANDLE_MUST],
  ["a handle without a kind", "version: 2\nservices:\n  db:\n    state: running\n    handle: { pid: 999999991, pgid: 999999991, ticks: 5 }\n", HANDLE_MUST],
  ["a handle whose kind is not text", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: 7, pid: 999999991 }\n", HANDLE_MUST],
  // pid 1 or pgid 1 would be signalled as group -1: every process we may signal. Refused even with a start time.
  ["a handle with pid 1", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: process, pid: 1, pgid: 999999991, ticks: 5, relay: false }\n", HANDLE_MUST],
  ["a handle with pgid 1", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: process, pid: 999999991, pgid: 1, ticks: 5, relay: false }\n", HANDLE_MUST],
  ["a handle with pid 0", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: process, pid: 0, pgid: 999999991, ticks: 5 }\n", HANDLE_MUST],
  ["a handle with a negative pgid", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: process, pid: 999999991, pgid: -1, ticks: 5 }\n", HANDLE_MUST],
  ["a handle with a pid that is not a number", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: process, pid: abc, pgid: 999999991 }\n", HANDLE_MUST],
  ["a handle with a fractional pid", "version: 2\nservices:\n  db:\n    state: running\n    handle: { kind: process, pid: 4242.5, pgid: 999999991 }\n", HANDLE_MUST],
  // A version-1 record is upgraded first: its pid 1 becomes a handle with pid 1 and pgid 1, refused the same way.
  ["a version-1 pid 1", "version: 1\nservices:\n  db:\n    state: running\n    pid: 1\n    start_ticks: 5\n", HANDLE_MUST],
  ["a spec that is not a mapping", "version: 2\nservices:\n  db:\n    spec: [sleep, 1000]\n", "services.db.spec must be null or a mapping"],
  // An owner is only looked up, never signalled: 1 is allowed (sv init as a container's PID 1), 0 is not a process.
  ["an owner_pid 0", "version: 2\nservices:\n  db:\n    state: starting\n    owner_pid: 0\n", "services.db.owner_pid must be a number (a process id)"],
  ["a negative restart count", "version: 2\nservices:\n  db:\n    restarts: -1\n", "services.db.restarts must be a whole number ≥ 0"],
  ["restarts as text", "version: 2\nservices:\n  db:\n    restarts: lots\n", "services.db.restarts must be a whole number ≥ 0"],
  ["a timestamp that is not one", "version: 2\nservices:\n  db:\n    started_at: yesterday\n", "services.db.started_at must be a timestamp"],
  ["a next restart that is not a time", "version: 2\nservices:\n  db:\n    state: restarting\n    next_restart_at: soon\n", "services.db.next_restart_at must be a timestamp"],
  ["last_error not text", "version: 2\nservices:\n  db:\n    last_error: { a: 1 }\n", "services.db.last_error must be text"],
];

test.each(BROKEN)("a state file with %s gives one clear error naming the file, exit 1, no stack", async (_, content, why) => {
  const p = tempProject({ ".sv/state/services.yml": content });
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  for (const args of [["status"], ["up"], ["down"]]) {
    const r = await sv(p.root, args);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toBe(`✘ the state file .sv/state/services.yml is corrupt: ${why}`);
    expect(r.stderr.split("\n")).toEqual([
      expect.stringMatching(/^✘ the state file .sv\/state\/services.yml is corrupt: /),
      "  hint: move it aside (mv .sv/state/services.yml .sv/state/services.yml.bad) and run `sv status`; your service definitions are untouched, but sv forgets the processes it started, so stop them by hand if they still run",
      "",
    ]);
    expect(r.code).toBe(1);
  }
  // Nothing was started, and the file was left for the user to look at.
  expect(existsSync(join(p.root, ".sv/log/db.log"))).toBe(false);
  expect(p.read(".sv/state/services.yml")).toBe(content);
});

test("a state file that is a directory gives the same kind of error", async () => {
  const p = tempProject({ ".sv/state/services.yml/oops": "" });
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  const r = await sv(p.root, ["status"]);
  expect(r.stderr.split("\n")[0]).toBe("✘ refusing .sv/state/services.yml: it is not a regular file");
  expect(r.stderr).not.toContain("internal error");
  expect(r.code).toBe(1);
});

test("moving the corrupt file aside, as the hint says, recovers", async () => {
  const p = tempProject({ ".sv/state/services.yml": "garbage {{{\n" });
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  expect((await sv(p.root, ["status"])).code).toBe(1);
  Bun.spawnSync(["mv", ".sv/state/services.yml", ".sv/state/services.yml.bad"], { cwd: p.root });
  const r = await sv(p.root, ["status", "--json"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).services[0]).toMatchObject({ name: "db", state: "stopped" });
});

test("an empty state file is an empty store, not an error", async () => {
  const p = tempProject({ ".sv/state/services.yml": "" });
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  expect((await sv(p.root, ["status"])).code).toBe(0);
});

test("writes leave no temporary files behind", async () => {
  const p = tempProject();
  await bigStore(p.root);
  await withState(projectPaths(p.root), (tx) => void (tx.unit("x").restarts = 1));
  expect(readdirSync(join(p.root, ".sv/state")).sort()).toEqual(["lock", "services.yml"]);
  const text = readFileSync(join(p.root, ".sv/state/services.yml"), "utf8");
  // YAML in JSON form, one unit per line: both parsers read the same document.
  expect(text).toStartWith('{"version": 2, "services": {\n  "pad000": {"wanted":"down","state":"stopped","health":"unknown","handle":null,"spec":null,');
  expect(Bun.YAML.parse(text)).toEqual(JSON.parse(text));
});

test("withState refuses an async function, and writes nothing", async () => {
  const p = tempProject();
  const paths = projectPaths(p.root);
  await expect(withState(paths, async (tx) => void (tx.unit("x").restarts = 1))).rejects.toThrow("bug: withState needs a synchronous function");
  expect(readState(paths).units).toEqual({});
  // And the lock was released.
  expect(await withState(paths, () => 42, { waitMs: 0 })).toBe(42);
});

test("a version-2 store round-trips handles and specs of every kind, and is written as version 2", async () => {
  const p = tempProject();
  const paths = projectPaths(p.root);
  const api: Unit = {
    ...newUnit(),
    wanted: "up",
    state: "running",
    health: "healthy",
    handle: { kind: "process", pid: 999999991, pgid: 999999991, ticks: 123456, relay: true },
    spec: { hash: "3f2a9c", type: "simple", backend: "local", stop_signal: "SIGTERM", stop_timeout_ms: 10_000, port: 8080 },
    since: "2026-11-30T09:15:02.481Z",
    started_at: "2026-11-30T09:15:02.133Z",
    restarts: 2,
  };
  const web: Unit = {
    ...newUnit(),
    wanted: "up",
    state: "restarting",
    handle: { kind: "container", id: "c0ffee", image: "nginx:1.27" },
    spec: { hash: "77aa", type: "simple", backend: "container", stop_signal: "SIGQUIT", stop_timeout_ms: 5000, port: null },
    failures: 3,
    next_restart_at: "2026-11-30T09:16:00.000Z",
    last_error: "web exited with code 1",
  };
  await withState(paths, (tx) => {
    Object.assign(tx.unit("api"), api);
    Object.assign(tx.unit("web.2"), web);
    tx.unit("idle");
  });
  const text = p.read(".sv/state/services.yml");
  expect(text).toStartWith('{"version": 2, "services": {\n  "api": {');
  expect(JSON.parse(text)).toEqual({ version: 2, services: { api, idle: newUnit(), "web.2": web } });
  expect(readState(paths)).toEqual({ version: 2, units: { api, idle: newUnit(), "web.2": web } });
  // A write that changes nothing rewrites nothing.
  await withState(paths, () => {});
  expect(p.read(".sv/state/services.yml")).toBe(text);
});

test("a hand-written version-2 store in plain YAML reads the same as sv's own JSON form", () => {
  const p = tempProject({
    ".sv/state/services.yml": "version: 2\nservices:\n  api:\n    wanted: up\n    state: running\n    handle: { kind: process, pid: 999999991, pgid: 999999991, ticks: 5, relay: true }\n",
  });
  expect(readState(projectPaths(p.root)).units.api).toEqual({
    ...newUnit(),
    wanted: "up",
    state: "running",
    handle: { kind: "process", pid: 999999991, pgid: 999999991, ticks: 5, relay: true },
  });
});

/** A process in its own session (like a service sv 0.1 started), killed after the test; its pid and start time. */
function liveService(): { pid: number; ticks: number } {
  const proc = Bun.spawn(["sleep", "1000"], { stdio: ["ignore", "ignore", "ignore"], detached: true });
  killAfterTest(proc.pid);
  const ticks = startTicksOf(proc.pid);
  if (ticks === null) throw new Error("the service died at once");
  return { pid: proc.pid, ticks };
}

/** test/fixtures/store-v1.yml (written by sv 0.1's serialize), its api unit recorded as running `pid`. */
function v1Store(pid: number, ticks: number): string {
  return readFileSync(fixture("store-v1.yml"), "utf8").replaceAll("__PID__", String(pid)).replaceAll("__TICKS__", String(ticks));
}

test("a version-1 store is upgraded on read: the bare pid becomes a process handle, the rest is kept", async () => {
  const { pid, ticks } = liveService();
  const v1 = v1Store(pid, ticks);
  const p = tempProject({ ".sv/state/services.yml": v1 });
  const paths = projectPaths(p.root);
  const state = readState(paths);
  expect(state.version).toBe(2);
  expect(state.units.api).toEqual({
    wanted: "up",
    state: "running",
    health: "healthy",
    handle: { kind: "process", pid, pgid: pid, ticks, relay: false },
    spec: null,
    since: "2026-11-30T09:15:02.481Z",
    started_at: "2026-11-30T09:15:02.133Z",
    restarts: 2,
    failures: 0,
    next_restart_at: null,
    gave_up_at: null,
    health_failures: 0,
    health_failed_at: null,
    exit_code: null,
    last_error: null,
    start_duration_s: 0.348,
    owner_pid: null,
    owner_ticks: null,
  });
  expect(state.units.api).not.toHaveProperty("pid");
  expect(state.units.api).not.toHaveProperty("start_ticks");
  // No pid recorded: no handle; a give-up is still a give-up.
  expect(state.units.worker).toMatchObject({
    state: "error",
    handle: null,
    spec: null,
    restarts: 3,
    failures: 4,
    gave_up_at: "2026-11-30T09:20:41.907Z",
    exit_code: 1,
    last_error: "gave up after 3 restarts (max_restarts): worker exited with code 1",
  });
  // Reading never writes: the file is still version 1.
  expect(p.read(".sv/state/services.yml")).toBe(v1);

  // The next locked write, even one that changes nothing, rewrites it as version 2.
  await withState(paths, () => {});
  const text = p.read(".sv/state/services.yml");
  expect(text).toStartWith('{"version": 2, "services": {\n  "api": {"wanted":"up","state":"running","health":"healthy","handle":{"kind":"process",');
  expect(text).not.toContain("start_ticks");
  const doc = JSON.parse(text);
  expect(doc.version).toBe(2);
  expect(doc.services.api.handle).toEqual({ kind: "process", pid, pgid: pid, ticks, relay: false });
  expect(doc.services.api).not.toHaveProperty("pid");
  expect(readState(paths)).toEqual(state);
});

test("sv status and sv down on a version-1 store: the running unit is seen with its pid, and stopped for real", async () => {
  const { pid, ticks } = liveService();
  const p = tempProject({
    ".sv/state/services.yml": v1Store(pid, ticks),
    "services/api.yml": JSON.stringify({ command: ["sleep", "1000"] }),
    "services/worker.yml": JSON.stringify({ command: ["false"], max_restarts: 3 }),
  });
  const before = await status(p.root);
  expect(before.find((s) => s.name === "api")).toMatchObject({ name: "api", state: "running", wanted: "up", health: "healthy", pid, restarts: 2 });
  expect(before.find((s) => s.name === "worker")).toMatchObject({ state: "error", pid: null, restarts: 3, last_error: "gave up after 3 restarts (max_restarts): worker exited with code 1" });
  expect(isAlive(pid)).toBe(true);

  const down = await sv(p.root, ["down"]);
  expect(down.stderr).not.toContain("internal error");
  expect(down.code).toBe(0);
  // Stopped as a group (its pgid is its pid), and waited for: gone when sv down returns.
  await waitFor(() => !isAlive(pid), `pid ${pid} still alive after sv down`, 2000);
  const after = await status(p.root);
  expect(after.find((s) => s.name === "api")).toMatchObject({ state: "stopped", wanted: "down", pid: null });
  expect(after.find((s) => s.name === "worker")).toMatchObject({ state: "stopped", wanted: "down" });
  expect(JSON.parse(p.read(".sv/state/services.yml")).version).toBe(2);
});
