import { describe, expect, test } from "bun:test";
import type { Project, Service } from "../../src/config/schema.ts";
import { STATES } from "../../src/engine/states.ts";
import { escapeLabelValue, formatExposition, formatValue, renderMetrics } from "../../src/observe/metrics.ts";
import { readStat } from "../../src/runtime/identity.ts";
import { newUnit, type StoreState, type Unit } from "../../src/store/store.ts";
import { fixtureCommand, freePort, status, sv, tempProject, waitFor } from "../helpers/project.ts";
import { parseExposition, sampleValue } from "./prom.ts";

function project(services: { name: string; instances?: number }[]): Project {
  return {
    root: "/nowhere",
    stateDir: "/nowhere/.sv",
    maxParallel: 8,
    defaultTimeoutMs: 60_000,
    services: new Map(services.map((s) => [s.name, { name: s.name, type: "simple", instances: s.instances ?? 1 } as Service])),
    api: { tokens: [], allowInsecure: false, secretEnv: [] },
    name: "nowhere",
    plugins: [],
    hosts: new Map(),
    networks: new Map(),
  };
}

const unit = (over: Partial<Unit>): Unit => ({ ...newUnit(), ...over });
const NOW = Date.parse("2026-11-21T10:00:10.000Z");

describe("renderMetrics", () => {
  const p = project([{ name: "api" }, { name: "db" }, { name: "worker", instances: 3 }]);
  const handle = (pid: number) => ({ kind: "process", pid, pgid: pid - 1, ticks: 1234, relay: true });
  const state: StoreState = {
    version: 2,
    units: {
      api: unit({ state: "running", health: "healthy", wanted: "up", handle: handle(42), started_at: "2026-11-21T10:00:00.000Z", restarts: 3, start_duration_s: 0.25 }),
      db: unit({ state: "error", wanted: "up", restarts: 10, last_error: "exited", gave_up_at: "2026-11-21T09:59:00.000Z" }),
      "worker.0": unit({ state: "running", health: "unhealthy", wanted: "up", handle: handle(50), started_at: "2026-11-21T10:00:05.500Z", start_duration_s: 1.5 }),
      // Ended, and the policy will start it again: not up, no uptime, its restarts still counted.
      "worker.2": unit({
        state: "restarting",
        wanted: "up",
        handle: handle(60),
        started_at: "2026-11-21T09:59:30.000Z",
        restarts: 4,
        failures: 2,
        next_restart_at: "2026-11-21T10:00:11.000Z",
        start_duration_s: 0.5,
      }),
    },
  };
  const text = renderMetrics(p, state, NOW);
  const families = parseExposition(text);

  test("is valid exposition with HELP and TYPE for every family", () => {
    expect([...families.keys()]).toEqual([
      "sv_service_up",
      "sv_service_healthy",
      "sv_service_wanted_up",
      "sv_service_restarts_total",
      "sv_service_uptime_seconds",
      "sv_service_start_duration_seconds",
      "sv_services",
    ]);
    for (const f of families.values()) {
      expect(f.help).toBeTruthy();
      expect(f.type).toBe(f.name === "sv_service_restarts_total" ? "counter" : "gauge");
    }
  });

  test("has one series per unit, labelled service and unit", () => {
    const up = families.get("sv_service_up")!.samples;
    expect(up.map((s) => [s.labels.service, s.labels.unit, s.value])).toEqual([
      ["api", "api", 1],
      ["db", "db", 0],
      ["worker", "worker.0", 1],
      ["worker", "worker.1", 0],
      ["worker", "worker.2", 0],
    ]);
    expect(sampleValue(families, "sv_service_healthy", { unit: "api" })).toBe(1);
    expect(sampleValue(families, "sv_service_healthy", { unit: "worker.0" })).toBe(0);
    expect(sampleValue(families, "sv_service_wanted_up", { unit: "worker.1" })).toBe(0);
    expect(sampleValue(families, "sv_service_restarts_total", { unit: "db" })).toBe(10);
    expect(sampleValue(families, "sv_service_uptime_seconds", { unit: "api" })).toBe(10);
    expect(sampleValue(families, "sv_service_uptime_seconds", { unit: "worker.0" })).toBe(4.5);
    expect(sampleValue(families, "sv_service_uptime_seconds", { unit: "db" })).toBe(0);
    expect(sampleValue(families, "sv_service_uptime_seconds", { unit: "worker.2" })).toBe(0);
    expect(sampleValue(families, "sv_service_restarts_total", { unit: "worker.2" })).toBe(4);
    expect(sampleValue(families, "sv_service_wanted_up", { unit: "worker.2" })).toBe(1);
    expect(sampleValue(families, "sv_service_healthy", { unit: "worker.2" })).toBe(0);
  });

  test("start duration is absent for units never started", () => {
    expect(families.get("sv_service_start_duration_seconds")!.samples.map((s) => [s.labels.unit, s.value])).toEqual([
      ["api", 0.25],
      ["worker.0", 1.5],
      ["worker.2", 0.5],
    ]);
  });

  test("sv_services counts every state, zeros included", () => {
    const counts = Object.fromEntries(families.get("sv_services")!.samples.map((s) => [s.labels.state, s.value]));
    expect(counts).toEqual({ stopped: 1, starting: 0, running: 2, stopping: 0, completed: 0, restarting: 1, error: 1 });
    expect(Object.keys(counts)).toEqual([...STATES]);
  });

  test("exact lines", () => {
    expect(text).toContain('# HELP sv_service_up 1 if the unit is running, else 0.\n# TYPE sv_service_up gauge\nsv_service_up{service="api",unit="api"} 1\n');
    expect(text).toContain('# TYPE sv_service_restarts_total counter\nsv_service_restarts_total{service="api",unit="api"} 3\n');
    expect(text).toContain('sv_services{state="restarting"} 1\n');
    expect(text.endsWith('sv_services{state="error"} 1\n')).toBe(true);
  });

  test("an empty project still lists every state", () => {
    const f = parseExposition(renderMetrics(project([]), { version: 2, units: {} }, NOW));
    expect(f.get("sv_services")!.samples.map((s) => [s.labels.state, s.value])).toEqual(STATES.map((st) => [st, 0]));
    expect(STATES).toContain("restarting");
    expect(f.get("sv_service_up")!.samples).toHaveLength(0);
  });
});

describe("escaping", () => {
  test.each([
    ["plain", "plain"],
    ['say "hi"', 'say \\"hi\\"'],
    ["back\\slash", "back\\\\slash"],
    ["two\nlines", "two\\nlines"],
    ['\\"\n', '\\\\\\"\\n'],
  ])("label value %j", (raw, escaped) => {
    expect(escapeLabelValue(raw)).toBe(escaped);
    const text = formatExposition([{ name: "m", help: "h", type: "gauge", samples: [{ labels: { l: raw }, value: 1 }] }]);
    expect(parseExposition(text).get("m")!.samples[0]!.labels.l).toBe(raw);
  });

  test("help text escapes backslash and line feed", () => {
    const text = formatExposition([{ name: "m", help: "a\\b\nc", type: "gauge", samples: [] }]);
    expect(text).toBe("# HELP m a\\\\b\\nc\n# TYPE m gauge\n");
    parseExposition(text);
  });

  test.each([
    [1, "1"],
    [0.25, "0.25"],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "+Inf"],
    [Number.NEGATIVE_INFINITY, "-Inf"],
    [1e21, "1e+21"],
  ])("value %p", (value, text) => {
    expect(formatValue(value)).toBe(text);
  });
});

describe("the strict parser rejects", () => {
  test.each([
    ["a missing final line feed", "# HELP m h\n# TYPE m gauge\nm 1"],
    ["a second TYPE", "# HELP m h\n# TYPE m gauge\n# TYPE m gauge\nm 1\n"],
    ["a duplicate series", '# HELP m h\n# TYPE m gauge\nm{a="1",b="2"} 1\nm{b="2",a="1"} 2\n'],
    ["a bad escape", '# HELP m h\n# TYPE m gauge\nm{a="\\t"} 1\n'],
    ["an unterminated value", '# HELP m h\n# TYPE m gauge\nm{a="x} 1\n'],
    ["a sample before TYPE", "m 1\n# HELP m h\n# TYPE m gauge\n"],
    ["a split family", "# HELP m h\n# TYPE m gauge\nm 1\n# HELP n h\n# TYPE n gauge\nn 1\n# HELP m h\n"],
    ["a counter without _total", "# HELP m h\n# TYPE m counter\nm 1\n"],
    ["a bad value", "# HELP m h\n# TYPE m gauge\nm one\n"],
    ["a blank line", "# HELP m h\n\n# TYPE m gauge\nm 1\n"],
  ])("%s", (_, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});

test("sv metrics observes, then prints the exposition of a running project", async () => {
  const port = freePort();
  const p = tempProject({
    "services/web.yml": `command: ${fixtureCommand("tcp-server.ts")}\nport: ${port}\n`,
    "services/batch.yml": "type: oneshot\ncommand: 'true'\n",
    "services/pool.yml": `command: ${fixtureCommand("tcp-server.ts", "0")}\ninstances: 2\n`,
  });
  expect((await sv(p.root, ["up", "web", "batch"])).code).toBe(0);

  const r = await sv(p.root, ["metrics"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const families = parseExposition(r.stdout);
  expect(sampleValue(families, "sv_service_up", { service: "web", unit: "web" })).toBe(1);
  expect(sampleValue(families, "sv_service_healthy", { service: "web" })).toBe(1);
  expect(sampleValue(families, "sv_service_up", { unit: "batch" })).toBe(0);
  expect(sampleValue(families, "sv_service_up", { service: "pool", unit: "pool.1" })).toBe(0);
  expect(sampleValue(families, "sv_services", { state: "completed" })).toBe(1);
  expect(sampleValue(families, "sv_services", { state: "running" })).toBe(1);
  expect(sampleValue(families, "sv_services", { state: "stopped" })).toBe(2);
  expect(sampleValue(families, "sv_service_start_duration_seconds", { unit: "web" })).toBeGreaterThan(0);

  // Observation: kill the service's group behind sv's back; metrics must see it, as status does. A first
  // crash under restart: on-failure is restarting (at once); only sv watch or sv reconcile restart it.
  const pid = (await status(p.root)).find((s) => s.name === "web")!.pid!;
  process.kill(-readStat(pid)!.pgid, "SIGKILL");
  const after = await waitFor(async () => {
    const f = parseExposition((await sv(p.root, ["metrics"])).stdout);
    return sampleValue(f, "sv_service_up", { unit: "web" }) === 0 ? f : null;
  }, "metrics to notice the killed service");
  expect(sampleValue(after, "sv_services", { state: "restarting" })).toBe(1);
  expect(sampleValue(after, "sv_services", { state: "running" })).toBe(0);
  expect(sampleValue(after, "sv_services", { state: "error" })).toBe(0);
  expect(sampleValue(after, "sv_service_uptime_seconds", { unit: "web" })).toBe(0);
  expect((await status(p.root)).find((s) => s.name === "web")).toMatchObject({ state: "restarting", pid: null });

  const json = await sv(p.root, ["metrics", "--json"]);
  expect(json.code).toBe(0);
  const doc = JSON.parse(json.stdout);
  expect(doc.metrics.map((f: { name: string }) => f.name)).toContain("sv_services");
});
