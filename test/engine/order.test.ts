// Dependency order with real processes: pull-in, parallelism within max_parallel, start conditions,
// dependents stopped first, idempotency, oneshots, skipped dependents, restart.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type EventLine, eventIndex, events, isAlive, status, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

/** A long-running service that leaves `started.NAME` in the project dir when it starts. */
const marked = (root: string, extra: Record<string, unknown> = {}) => ({ command: `touch ${root}/started.$SV_SERVICE; exec sleep 1000`, ...extra });
/** A health check that passes once the file `go.NAME` exists in the project dir. */
const gate = (root: string, name: string) => ({ type: "command", command: `test -f ${root}/go.${name}`, interval: "100ms", retries: 200 });

/** The most units ever between `starting` and a settled state, replaying the event log. */
function maxInFlight(list: EventLine[]): number {
  let now = 0;
  let max = 0;
  for (const e of list) {
    if (e.to === "starting") now++;
    if (e.from === "starting" && e.to !== "starting") now--;
    max = Math.max(max, now);
  }
  return max;
}

function lines(out: string): string[] {
  return out.trim().split("\n");
}

describe("sv up", () => {
  test("pulls in dependencies, transitively, and starts them first", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify(marked(p.root)));
    p.write("services/api.yml", JSON.stringify(marked(p.root, { depends_on: ["db"] })));
    p.write("services/worker.yml", JSON.stringify(marked(p.root, { depends_on: ["api"] })));
    p.write("services/other.yml", JSON.stringify(marked(p.root)));
    const up = await sv(p.root, ["up", "worker"]);
    expect(up.code).toBe(0);
    expect(lines(up.stdout).map((l) => l.split(" ")[1])).toEqual(["db", "api", "worker"]);
    const ev = events(p.root);
    expect(eventIndex(ev, "db", "running")).toBeLessThan(eventIndex(ev, "api", "starting"));
    expect(eventIndex(ev, "api", "running")).toBeLessThan(eventIndex(ev, "worker", "starting"));
    expect((await status(p.root)).map((s) => [s.name, s.state])).toEqual([
      ["api", "running"],
      ["db", "running"],
      ["other", "stopped"],
      ["worker", "running"],
    ]);
    expect(existsSync(join(p.root, "started.other"))).toBe(false);
  });

  test("starts independent services in parallel: each waits for all three to have started", async () => {
    const p = tempProject();
    // Each one becomes healthy only once all three have started: one at a time would never get there.
    const all3 = { type: "command", command: `test $(ls ${p.root} | grep -c '^started[.]') -ge 3`, interval: "100ms", retries: 200 };
    for (const n of ["a", "b", "c"]) p.write(`services/${n}.yml`, JSON.stringify(marked(p.root, { health_check: all3 })));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    expect(maxInFlight(events(p.root))).toBe(3);
  });

  test("starts at most max_parallel services at once", async () => {
    const p = tempProject({ "sv.yml": "max_parallel: 2\n" });
    const check = { type: "command", command: "true", interval: "100ms" };
    for (const n of ["a", "b", "c", "d", "e"]) p.write(`services/${n}.yml`, JSON.stringify(marked(p.root, { health_check: check })));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    expect(lines(up.stdout)).toHaveLength(5);
    const ev = events(p.root);
    expect(ev.filter((e) => e.to === "running")).toHaveLength(5);
    expect(maxInFlight(ev)).toBe(2);
  });

  test("a service without a health check holds no max_parallel slot during its grace period: all start in one wave", async () => {
    const p = tempProject({ "sv.yml": "max_parallel: 2\n" });
    for (const n of ["a", "b", "c", "d", "e"]) p.write(`services/${n}.yml`, JSON.stringify(marked(p.root)));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    const ev = events(p.root);
    expect(ev.filter((e) => e.to === "running")).toHaveLength(5);
    // More in flight than max_parallel allows: the waits gave their slots back. (All 5 at once when the
    // batches are quick; on a loaded machine the first may finish its 150 ms grace before the last begins.)
    expect(maxInFlight(ev)).toBeGreaterThan(2);
  });

  test("condition started: the dependent starts while its dependency is not healthy yet", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify(marked(p.root, { health_check: gate(p.root, "db") })));
    p.write("services/api.yml", JSON.stringify(marked(p.root, { depends_on: { db: { condition: "started" } } })));
    const up = svBackground(p.root, ["up", "api"]);
    // db cannot pass its check before go.db exists, and we only create it once api has started.
    await waitFor(() => existsSync(join(p.root, "started.api")), "api started before db was healthy");
    expect((await unitStatus(p.root, "db")).state).toBe("starting");
    p.write("go.db", "");
    const r = await up.done;
    expect(r.code).toBe(0);
    expect((await status(p.root)).map((s) => [s.name, s.state])).toEqual([
      ["api", "running"],
      ["db", "running"],
    ]);
  });

  test("condition healthy (the default): the dependent starts only after its dependency passed its check", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify(marked(p.root, { health_check: gate(p.root, "db") })));
    // api fails at once if it is started before db is healthy.
    p.write("services/api.yml", JSON.stringify({ command: `test -f ${p.root}/go.db && exec sleep 1000`, depends_on: ["db"] }));
    const up = svBackground(p.root, ["up", "api"]);
    await waitFor(() => existsSync(join(p.root, "started.db")), "db started");
    p.write("go.db", "");
    const r = await up.done;
    expect(r.stdout).toMatch(/^✓ db running \(pid \d+\) in [\d.]+ m?s\n✓ api running \(pid \d+\) in \d+ ms\n$/);
    expect(r.code).toBe(0);
    const ev = events(p.root);
    expect(eventIndex(ev, "db", "running", "starting")).toBeLessThan(eventIndex(ev, "api", "starting"));
  });

  test("condition completed: the dependent starts after the oneshot exited 0", async () => {
    const p = tempProject();
    p.write("services/migrate.yml", JSON.stringify({ type: "oneshot", command: `test -f ${p.root}/go.migrate && touch ${p.root}/migrated` }));
    p.write("services/api.yml", JSON.stringify({ command: `test -f ${p.root}/migrated && exec sleep 1000`, depends_on: { migrate: { condition: "completed" } } }));
    p.write("go.migrate", "");
    const up = await sv(p.root, ["up", "api"]);
    expect(up.stdout).toMatch(/^✓ migrate completed in \d+ ms\n✓ api running \(pid \d+\) in \d+ ms\n$/);
    expect(up.code).toBe(0);
    const ev = events(p.root);
    expect(eventIndex(ev, "migrate", "completed")).toBeLessThan(eventIndex(ev, "api", "starting"));
    expect((await status(p.root)).map((s) => [s.name, s.state, s.wanted])).toEqual([
      ["api", "running", "up"],
      ["migrate", "completed", "up"],
    ]);
  });

  test("is idempotent: a second sv up says already running and spawns nothing", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify(marked(p.root)));
    p.write("services/job.yml", JSON.stringify({ type: "oneshot", command: `echo ran >> ${p.root}/job.runs` }));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const view = async () => (await status(p.root)).map((s) => [s.name, s.state, s.pid, s.wanted, s.health, s.restarts, s.last_error]);
    const before = await view();
    const eventsBefore = events(p.root).length;
    const again = await sv(p.root, ["up"]);
    expect(again.code).toBe(0);
    expect(lines(again.stdout).sort()).toEqual(["✓ db already running", "✓ job already completed"]);
    expect(await view()).toEqual(before);
    expect(events(p.root)).toHaveLength(eventsBefore);
    expect(p.read("job.runs")).toBe("ran\n");
  });

  test("a oneshot exiting 0 is completed; one exiting non-zero is an error with its exit code", async () => {
    const p = tempProject();
    p.write("services/good.yml", JSON.stringify({ type: "oneshot", command: "exit 0" }));
    p.write("services/bad.yml", JSON.stringify({ type: "oneshot", command: "echo failing >&2; exit 3" }));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(1);
    expect(lines(up.stdout)).toContain("✘ bad: bad exited with code 3");
    expect(lines(up.stdout).filter((l) => l.startsWith("✓"))).toEqual([expect.stringMatching(/^✓ good completed in \d+ ms$/)]);
    expect(lines(up.stdout)).toHaveLength(2);
    expect(up.stderr).toBe("✘ up: 1 of 2 services failed\n");
    const json = JSON.parse((await sv(p.root, ["status", "--json"])).stdout).services;
    expect(json.map((s: Record<string, unknown>) => [s.name, s.state, s.exit_code, s.last_error])).toEqual([
      ["bad", "error", 3, "bad exited with code 3"],
      ["good", "completed", 0, null],
    ]);
    expect(p.read(".sv/log/bad.log")).toBe("failing\n");
  });

  test("a dependent of a failed service is skipped with a clear line, and never spawned", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify({ command: "exit 1" }));
    p.write("services/api.yml", JSON.stringify(marked(p.root, { depends_on: ["db"] })));
    p.write("services/worker.yml", JSON.stringify(marked(p.root, { depends_on: ["api"] })));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(1);
    expect(up.stdout).toBe("✘ db: db exited with code 1 while starting\n- api: skipped: db failed\n- worker: skipped: api failed\n");
    expect(up.stderr).toBe("✘ up: 1 of 3 services failed, 2 skipped\n");
    expect(existsSync(join(p.root, "started.api"))).toBe(false);
    expect(existsSync(join(p.root, "started.worker"))).toBe(false);
    expect((await status(p.root)).map((s) => [s.name, s.state])).toEqual([
      ["api", "stopped"],
      ["db", "restarting"],
      ["worker", "stopped"],
    ]);
  });
});

describe("sv down", () => {
  test("stops dependents first, and only what depends on the named service", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify(marked(p.root)));
    p.write("services/api.yml", JSON.stringify(marked(p.root, { depends_on: ["db"] })));
    p.write("services/worker.yml", JSON.stringify(marked(p.root, { depends_on: ["api"] })));
    p.write("services/other.yml", JSON.stringify(marked(p.root)));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const pids = Object.fromEntries((await status(p.root)).map((s) => [s.name, s.pid!]));

    const down = await sv(p.root, ["down", "db"]);
    expect(down.code).toBe(0);
    expect(down.stdout).toBe("✓ worker stopped\n✓ api stopped\n✓ db stopped\n");
    const ev = events(p.root);
    expect(eventIndex(ev, "worker", "stopped")).toBeLessThan(eventIndex(ev, "api", "stopping"));
    expect(eventIndex(ev, "api", "stopped")).toBeLessThan(eventIndex(ev, "db", "stopping"));
    for (const n of ["db", "api", "worker"]) expect(isAlive(pids[n]!)).toBe(false);
    expect(isAlive(pids.other!)).toBe(true);
    expect((await status(p.root)).map((s) => [s.name, s.state, s.wanted])).toEqual([
      ["api", "stopped", "down"],
      ["db", "stopped", "down"],
      ["other", "running", "up"],
      ["worker", "stopped", "down"],
    ]);
  });

  test("is idempotent: a second sv down changes nothing", async () => {
    const p = tempProject();
    p.write("services/db.yml", JSON.stringify(marked(p.root)));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    expect((await sv(p.root, ["down"])).code).toBe(0);
    const count = events(p.root).length;
    const again = await sv(p.root, ["down"]);
    expect(again).toEqual({ code: 0, stdout: "✓ db stopped\n", stderr: "" });
    expect(events(p.root)).toHaveLength(count);
  });
});

test("sv restart NAME: new processes for it and its dependents, stopped dependents-first, started dependencies-first", async () => {
  const p = tempProject();
  p.write("services/db.yml", JSON.stringify(marked(p.root)));
  p.write("services/api.yml", JSON.stringify(marked(p.root, { depends_on: ["db"] })));
  p.write("services/other.yml", JSON.stringify(marked(p.root)));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const before = Object.fromEntries((await status(p.root)).map((s) => [s.name, s.pid!]));
  const mark = events(p.root).length;

  const r = await sv(p.root, ["restart", "db"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^✓ api stopped\n✓ db stopped\n✓ db running \(pid \d+\) in \d+ ms\n✓ api running \(pid \d+\) in \d+ ms\n$/);
  const after = Object.fromEntries((await status(p.root)).map((s) => [s.name, s]));
  for (const n of ["db", "api"]) {
    expect(after[n]!.state).toBe("running");
    expect(after[n]!.pid).not.toBe(before[n]);
    expect(isAlive(before[n]!)).toBe(false);
    expect(isAlive(after[n]!.pid!)).toBe(true);
  }
  expect(after.other!.pid).toBe(before.other!);
  const ev = events(p.root).slice(mark);
  expect(ev.map((e) => `${e.service}:${e.to}`)).toEqual(["api:stopping", "api:stopped", "db:stopping", "db:stopped", "db:starting", "db:running", "api:starting", "api:running"]);
});

describe("ordering without dependencies", () => {
  test("after: waits for a service that is being started, but never pulls it in", async () => {
    const p = tempProject();
    p.write("services/migrate.yml", JSON.stringify({ type: "oneshot", command: `touch ${p.root}/migrated` }));
    p.write("services/api.yml", JSON.stringify(marked(p.root, { after: ["migrate"] })));
    const alone = await sv(p.root, ["up", "api"]);
    expect(alone.code).toBe(0);
    expect(lines(alone.stdout).map((l) => l.split(" ")[1])).toEqual(["api"]);
    expect(existsSync(join(p.root, "migrated"))).toBe(false);
    expect((await sv(p.root, ["down"])).code).toBe(0);
    const mark = events(p.root).length;

    const both = await sv(p.root, ["up"]);
    expect(both.code).toBe(0);
    const ev = events(p.root).slice(mark);
    expect(eventIndex(ev, "migrate", "completed")).toBeGreaterThanOrEqual(0);
    expect(eventIndex(ev, "migrate", "completed")).toBeLessThan(eventIndex(ev, "api", "starting"));
  });

  test("before: the named service starts after this one", async () => {
    const p = tempProject();
    p.write("services/first.yml", JSON.stringify(marked(p.root, { before: ["second"] })));
    p.write("services/second.yml", JSON.stringify(marked(p.root)));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    const ev = events(p.root);
    expect(eventIndex(ev, "first", "running")).toBeLessThan(eventIndex(ev, "second", "starting"));
    // And stops before it: second goes down first.
    expect((await sv(p.root, ["down"])).stdout).toBe("✓ second stopped\n✓ first stopped\n");
  });

  test("on-demand services start only when named or needed", async () => {
    const p = tempProject();
    p.write("services/cache.yml", JSON.stringify(marked(p.root, { type: "on-demand" })));
    p.write("services/web.yml", JSON.stringify(marked(p.root)));
    p.write("services/api.yml", JSON.stringify(marked(p.root, { depends_on: ["cache"] })));
    const bare = await sv(p.root, ["up", "web"]);
    expect(bare.code).toBe(0);
    expect(existsSync(join(p.root, "started.cache"))).toBe(false);
    const needed = await sv(p.root, ["up", "api"]);
    expect(needed.code).toBe(0);
    expect(lines(needed.stdout).map((l) => l.split(" ")[1])).toEqual(["cache", "api"]);
    expect((await unitStatus(p.root, "cache")).state).toBe("running");
  });

  test("a bare sv up leaves on-demand services alone", async () => {
    const p = tempProject();
    p.write("services/cache.yml", JSON.stringify(marked(p.root, { type: "on-demand" })));
    p.write("services/web.yml", JSON.stringify(marked(p.root)));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    expect(lines(up.stdout).map((l) => l.split(" ")[1])).toEqual(["web"]);
    expect((await unitStatus(p.root, "cache")).state).toBe("stopped");
  });
});

test("instances: each unit is its own process group; up and down treat them as one service", async () => {
  const p = tempProject();
  p.write("services/worker.yml", JSON.stringify({ command: `touch ${p.root}/inst.$SV_INSTANCE; exec sleep 1000`, instances: 3 }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/^✓ worker running \(pid \d+, \d+, \d+\) in \d+ ms\n$/);
  const units = await status(p.root);
  expect(units.map((u) => [u.name, u.state])).toEqual([
    ["worker.0", "running"],
    ["worker.1", "running"],
    ["worker.2", "running"],
  ]);
  for (const i of [0, 1, 2]) expect(existsSync(join(p.root, `inst.${i}`))).toBe(true);
  const pids = units.map((u) => u.pid!);
  expect(new Set(pids).size).toBe(3);
  expect((await sv(p.root, ["up"])).stdout).toBe("✓ worker already running\n");
  const down = await sv(p.root, ["down", "worker"]);
  expect(down).toEqual({ code: 0, stdout: "✓ worker stopped\n", stderr: "" });
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
});
