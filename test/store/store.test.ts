// The store under real concurrency: atomic writes, no lost updates, clear errors for mangled files.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectPaths } from "../../src/paths.ts";
import { readState, withState } from "../../src/store/store.ts";
import { BUN, fixture, killAfterTest, sv, tempProject } from "../helpers/project.ts";

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

const BROKEN: [string, string, string][] = [
  ["not YAML", "version: 1\nservices:\n  db: [unclosed\n", "not valid YAML"],
  ["not a mapping", "- a\n- b\n", "expected a mapping with `version` and `services`"],
  ["a scalar", "garbage {{{\n", "expected a mapping with `version` and `services`"],
  ["an unknown version", "version: 2\nservices: {}\n", "unknown version 2 (expected 1)"],
  ["services not a mapping", "version: 1\nservices: [1, 2]\n", "`services` must be a mapping"],
  ["a unit not a mapping", "version: 1\nservices:\n  db: 5\n", "services.db must be a mapping"],
  ["a misspelt state", "version: 1\nservices:\n  db:\n    state: runing\n", 'services.db.state "runing" is not a state'],
  ["a bad health", "version: 1\nservices:\n  db:\n    health: fine\n", 'services.db.health "fine" is not a health'],
  ["a bad wanted", "version: 1\nservices:\n  db:\n    wanted: maybe\n", "services.db.wanted must be up or down"],
  ["a pid that is not a number", "version: 1\nservices:\n  db:\n    state: running\n    pid: abc\n", "services.db.pid must be a number (a process id above 1)"],
  // pid 1 (kill(-1) would reach every process) is refused; no start_ticks, so even an sv without that check would not signal it.
  ["pid 1", "version: 1\nservices:\n  db:\n    pid: 1\n", "services.db.pid must be a number (a process id above 1)"],
  ["start_ticks that are not a number", "version: 1\nservices:\n  db:\n    state: running\n    pid: 999999999\n    start_ticks: soon\n", "services.db.start_ticks must be a number"],
  ["a negative restart count", "version: 1\nservices:\n  db:\n    restarts: -1\n", "services.db.restarts must be a whole number ≥ 0"],
  ["restarts as text", "version: 1\nservices:\n  db:\n    restarts: lots\n", "services.db.restarts must be a whole number ≥ 0"],
  ["a timestamp that is not one", "version: 1\nservices:\n  db:\n    started_at: yesterday\n", "services.db.started_at must be a timestamp"],
  ["last_error not text", "version: 1\nservices:\n  db:\n    last_error: { a: 1 }\n", "services.db.last_error must be text"],
];

test.each(BROKEN)("a state file with %s gives one clear error naming the file, exit 1, no stack", async (_, content, why) => {
  const p = tempProject({ ".sv/state/services.yml": content });
  p.write("services/db.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  for (const args of [["status"], ["up"], ["down"]]) {
    const r = await sv(p.root, args);
    expect(r.stdout).toBe("");
    expect(r.stderr).toStartWith(`✘ the state file .sv/state/services.yml is corrupt: ${why}`);
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
  expect(r.stderr.split("\n")[0]).toStartWith("✘ the state file .sv/state/services.yml cannot be read: ");
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
  expect(text).toStartWith('{"version": 1, "services": {\n  "pad000": {"wanted":"down",');
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
