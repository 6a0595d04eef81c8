// runGraph with in-memory work: ordering, skips that propagate, the parallelism bound, `begun` prerequisites.
import { expect, test } from "bun:test";
import { type GraphRun, type Outcome, type Prerequisite, runGraph } from "../../src/engine/orchestrate.ts";

type Deps = Record<string, (string | Prerequisite)[]>;

/** A graph run whose work fails for `failing` nodes; records begin order and the most nodes in flight. */
function fakeRun(deps: Deps, opts: { failing?: string[]; maxParallel?: number; nodes?: string[] } = {}) {
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let transactions = 0;
  const run: GraphRun<string, null> = {
    nodes: opts.nodes ?? Object.keys(deps),
    maxParallel: opts.maxParallel ?? 8,
    prerequisites: (n) => (deps[n] ?? []).map((d) => (typeof d === "string" ? { name: d, hard: true } : d)),
    transact: async (fn) => {
      transactions++;
      return fn(null);
    },
    begin: (_tx, nodes) => {
      for (const n of nodes) log.push(`begin ${n}`);
      inFlight += nodes.length;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Map(nodes.map((n) => [n, n]));
    },
    work: async (n) => {
      await Bun.sleep(1);
      return opts.failing?.includes(n) ? { ok: false, message: `${n} broke` } : { ok: true, message: "ok" };
    },
    finish: (_tx, results) => {
      inFlight -= results.size;
      for (const n of results.keys()) log.push(`finish ${n}`);
      return results;
    },
  };
  return { run, log, maxInFlight: () => maxInFlight, transactions: () => transactions };
}

const summary = (outcomes: Map<string, Outcome>) => Object.fromEntries([...outcomes].map(([n, o]) => [n, o.skipped ? `skipped: ${o.message}` : o.ok ? "ok" : `failed: ${o.message}`]));

test("a chain runs in order", async () => {
  const { run, log } = fakeRun({ c: ["b"], b: ["a"], a: [] });
  expect(summary(await runGraph(run))).toEqual({ a: "ok", b: "ok", c: "ok" });
  expect(log).toEqual(["begin a", "finish a", "begin b", "finish b", "begin c", "finish c"]);
});

// Every order of the nodes: a dependent listed before the service it was skipped for must still be skipped.
test.each([
  [["db", "api", "worker", "cron"]],
  [["worker", "cron", "api", "db"]],
  [["cron", "worker", "db", "api"]],
])("a failure skips its dependents transitively, whatever the node order (%p)", async (nodes) => {
  const { run, log } = fakeRun({ db: [], api: ["db"], worker: ["api"], cron: ["worker"] }, { failing: ["db"], nodes });
  expect(summary(await runGraph(run))).toEqual({
    db: "failed: db broke",
    api: "skipped: skipped: db failed",
    worker: "skipped: skipped: api failed",
    cron: "skipped: skipped: worker failed",
  });
  expect(log).toEqual(["begin db", "finish db"]);
});

test("a soft prerequisite (after/before) that failed does not skip", async () => {
  const { run } = fakeRun({ migrate: [], api: [{ name: "migrate", hard: false }] }, { failing: ["migrate"] });
  expect(summary(await runGraph(run))).toEqual({ migrate: "failed: migrate broke", api: "ok" });
});

test("no more than maxParallel nodes are in flight", async () => {
  const deps: Deps = Object.fromEntries(["a", "b", "c", "d", "e", "f", "g"].map((n) => [n, []]));
  const { run, maxInFlight } = fakeRun(deps, { maxParallel: 3 });
  const outcomes = await runGraph(run);
  expect([...outcomes.values()].every((o) => o.ok)).toBe(true);
  expect(maxInFlight()).toBe(3);
});

test("a `begun` prerequisite only has to have begun (depends_on condition: started)", async () => {
  const { run, log } = fakeRun({ db: [], api: [{ name: "db", hard: true, begun: true }] });
  await runGraph(run);
  expect(log.indexOf("begin api")).toBeLessThan(log.indexOf("finish db"));
});

test("prerequisites outside the run are ignored", async () => {
  const { run } = fakeRun({ api: ["db"] }, { nodes: ["api"] });
  expect(summary(await runGraph(run))).toEqual({ api: "ok" });
});

test("nodes that finish together share one transaction, which also claims what they unblocked", async () => {
  const deps: Deps = { top: [] };
  for (let i = 0; i < 20; i++) {
    deps[`leaf${i}`] = [];
    deps.top!.push(`leaf${i}`);
  }
  const { run, transactions } = fakeRun(deps, { maxParallel: 50 });
  expect(Object.values(summary(await runGraph(run)))).toEqual(Array(21).fill("ok"));
  // 1: claim the 20 leaves; 2: record them and claim top; 3: record top.
  expect(transactions()).toBe(3);
});
