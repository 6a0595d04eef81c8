// Service types and ordering knobs, as a user sees them: on-demand, multi-shot, after/before,
// start_delay and notify_delay (asserted through the order of recorded events, and lower bounds only).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { eventIndex, events, fixture, status, sv, tempProject } from "../helpers/project.ts";
import { spawns } from "./support.ts";

const sleeper = (file: string, extra: Record<string, unknown> = {}) => ({ command: ["sh", fixture("record-pid.sh"), file, "sleep", "1000"], ...extra });
const states = async (root: string) => Object.fromEntries((await status(root)).map((s) => [s.name, s.state]));

test("on-demand: not started by a bare sv up, but pulled in by a dependent, and started when named", async () => {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify(sleeper(join(p.root, "web.pids"))));
  p.write("services/cache.yml", JSON.stringify(sleeper(join(p.root, "cache.pids"), { type: "on-demand" })));
  p.write("services/tool.yml", JSON.stringify(sleeper(join(p.root, "tool.pids"), { type: "on-demand" })));
  p.write("services/app.yml", JSON.stringify(sleeper(join(p.root, "app.pids"), { depends_on: ["cache"] })));

  expect((await sv(p.root, ["up"])).code).toBe(0);
  expect(await states(p.root)).toEqual({ app: "running", cache: "running", tool: "stopped", web: "running" });
  expect(spawns(join(p.root, "tool.pids"))).toHaveLength(0);
  // The watchdog does not start it either: nobody wanted it up.
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
  expect(spawns(join(p.root, "tool.pids"))).toHaveLength(0);

  const named = await sv(p.root, ["up", "tool"]);
  expect(named.code).toBe(0);
  expect(named.stdout).toMatch(/^✓ tool running \(pid \d+\) in \d+ ms\n$/);
  expect(await states(p.root)).toEqual({ app: "running", cache: "running", tool: "running", web: "running" });
  expect(spawns(join(p.root, "tool.pids"))).toHaveLength(1);
});

test("multi-shot: each sv up NAME is a new run (job.1, job.2), each completed; a bare up or a reconcile runs nothing", async () => {
  const p = tempProject();
  const runs = join(p.root, "runs");
  p.write("services/job.yml", JSON.stringify({ type: "multi-shot", command: `echo "$SV_SERVICE $SV_INSTANCE" >> ${runs}; echo working` }));
  for (let i = 0; i < 2; i++) {
    const up = await sv(p.root, ["up", "job"]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^✓ job completed in \d+ ms\n$/);
  }
  expect(p.read("runs")).toBe("job 1\njob 2\n");
  const units = await status(p.root);
  expect(units.map((u) => [u.name, u.state, u.pid])).toEqual([
    ["job.1", "completed", null],
    ["job.2", "completed", null],
  ]);
  expect(p.read(".sv/log/job.1.log")).toBe("working\n");
  expect(p.read(".sv/log/job.2.log")).toBe("working\n");

  expect((await sv(p.root, ["up"])).code).toBe(0);
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 0, stdout: "", stderr: "" });
  expect(p.read("runs")).toBe("job 1\njob 2\n");
});

test("after/before order a start without pulling anything in", async () => {
  const p = tempProject();
  // b and c take a moment to be ready, so an order that is not enforced would show.
  const slow = (name: string, extra: Record<string, unknown>) => ({
    command: `sleep 0.4; touch ${p.root}/ready.${name}; exec sleep 1000`,
    health_check: { type: "command", command: `test -f ${p.root}/ready.${name}`, interval: "100ms", retries: 100 },
    ...extra,
  });
  p.write("services/a.yml", JSON.stringify({ command: "exec sleep 1000", after: ["b"] }));
  p.write("services/b.yml", JSON.stringify(slow("b", {})));
  p.write("services/c.yml", JSON.stringify(slow("c", { before: ["a"] })));

  // Named alone, a starts alone: after/before never pull a service in.
  expect((await sv(p.root, ["up", "a"])).code).toBe(0);
  expect(await states(p.root)).toEqual({ a: "running", b: "stopped", c: "stopped" });
  expect((await sv(p.root, ["down"])).code).toBe(0);

  const t = events(p.root).length;
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  const ev = events(p.root).slice(t);
  expect(eventIndex(ev, "b", "running")).toBeGreaterThan(-1);
  expect(eventIndex(ev, "a", "starting")).toBeGreaterThan(eventIndex(ev, "b", "running"));
  expect(eventIndex(ev, "a", "starting")).toBeGreaterThan(eventIndex(ev, "c", "running"));
  // b and c are not ordered against each other: both started before either was ready.
  expect(eventIndex(ev, "c", "starting")).toBeLessThan(eventIndex(ev, "b", "running"));
  expect(eventIndex(ev, "b", "starting")).toBeLessThan(eventIndex(ev, "c", "running"));
  // down goes the other way round: a stops before b and c.
  const d = events(p.root).length;
  expect((await sv(p.root, ["down"])).code).toBe(0);
  const downEv = events(p.root).slice(d);
  expect(eventIndex(downEv, "a", "stopped")).toBeLessThan(eventIndex(downEv, "b", "stopping"));
  expect(eventIndex(downEv, "a", "stopped")).toBeLessThan(eventIndex(downEv, "c", "stopping"));
});

test("start_delay holds the spawn back; notify_delay holds back the dependents of a ready service", async () => {
  const p = tempProject();
  p.write("services/late.yml", JSON.stringify({ command: "exec sleep 1000", start_delay: "1s" }));
  p.write("services/now.yml", JSON.stringify({ command: "exec sleep 1000" }));
  p.write("services/db.yml", JSON.stringify({ command: "exec sleep 1000", notify_delay: "1s" }));
  p.write("services/app.yml", JSON.stringify({ command: "exec sleep 1000", depends_on: ["db"] }));
  const t0 = Date.now();
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  const ev = events(p.root);
  const ts = (service: string, to: string) => Date.parse(ev[eventIndex(ev, service, to)]!.ts);

  // late was spawned a start_delay after sv up began; now, independent of it, did not wait.
  expect(ts("late", "starting") - t0).toBeGreaterThanOrEqual(1000);
  expect(eventIndex(ev, "now", "starting")).toBeLessThan(eventIndex(ev, "late", "starting"));
  expect(ts("now", "starting")).toBeLessThan(ts("late", "starting"));
  // app started only after db was ready, and at least a notify_delay after db was spawned.
  expect(eventIndex(ev, "app", "starting")).toBeGreaterThan(eventIndex(ev, "db", "running"));
  expect(ts("app", "starting") - ts("db", "starting")).toBeGreaterThanOrEqual(1000);
  expect(Object.values(await states(p.root))).toEqual(["running", "running", "running", "running"]);
});
