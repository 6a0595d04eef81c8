// Cross-service rules: references, cycles, conditions, probes. Each is a config problem with a position.
import { describe, expect, test } from "bun:test";
import { load, problemsOf } from "./helpers.ts";

/** A project of services/NAME.yml files. */
const services = (defs: Record<string, string>) => Object.fromEntries(Object.entries(defs).map(([name, yaml]) => [`services/${name}.yml`, yaml]));

describe("dependency problems", () => {
  const cases: [string, Record<string, string>, string[]][] = [
    [
      "unknown service with a suggestion",
      { api: "command: a\ndepends_on: [dbb]\n", db: "command: d\n" },
      ['services/api.yml:2:14: depends_on.0: unknown service "dbb" (did you mean "db"?)'],
    ],
    [
      "unknown service in the map form, without a suggestion",
      { api: "command: a\ndepends_on:\n  cache: { condition: healthy }\n" },
      ['services/api.yml:3:3: depends_on.cache: unknown service "cache"'],
    ],
    ["unknown service in after", { api: "command: a\nafter: [migrat]\n", migrate: "command: m\ntype: oneshot\n" }, ['services/api.yml:2:9: after.0: unknown service "migrat" (did you mean "migrate"?)']],
    ["unknown service in before", { api: "command: a\nbefore: [x]\n" }, ['services/api.yml:2:10: before.0: unknown service "x"']],
    ["self dependency", { api: "command: a\ndepends_on: [api]\n" }, ["services/api.yml:2:14: depends_on.0: a service cannot depend on itself"]],
    ["self dependency in the map form", { api: "command: a\ndepends_on:\n  api: {}\n" }, ["services/api.yml:3:3: depends_on.api: a service cannot depend on itself"]],
    ["ordered after itself", { api: "command: a\nafter: [api]\n" }, ["services/api.yml:2:9: after.0: a service cannot be ordered after itself"]],
    ["a 2-cycle", { a: "command: a\ndepends_on: [b]\n", b: "command: b\ndepends_on: [a]\n" }, ["services/a.yml:2:14: depends_on.0: dependency cycle: a -> b -> a"]],
    [
      "a 3-cycle through the map form",
      { a: "command: a\ndepends_on: { b: {} }\n", b: "command: b\ndepends_on: [c]\n", c: "command: c\ndepends_on: [a]\n" },
      ["services/a.yml:2:15: depends_on.b: dependency cycle: a -> b -> c -> a"],
    ],
    [
      "a cycle made by after and before",
      { a: "command: a\nafter: [b]\nbefore: [c]\n", b: "command: b\nafter: [c]\n", c: "command: c\n" },
      ["services/a.yml:2:9: after.0: dependency cycle: a -> b -> c -> a"],
    ],
    [
      "two separate cycles are both reported",
      { a: "command: a\ndepends_on: [b]\n", b: "command: b\ndepends_on: [a]\n", x: "command: x\ndepends_on: [y]\n", y: "command: y\ndepends_on: [x]\n" },
      ["services/a.yml:2:14: depends_on.0: dependency cycle: a -> b -> a", "services/x.yml:2:14: depends_on.0: dependency cycle: x -> y -> x"],
    ],
    [
      "condition completed on a service that is not oneshot",
      { api: "command: a\ndepends_on:\n  db: { condition: completed }\n", db: "command: d\n" },
      ['services/api.yml:3:20: depends_on.db.condition: condition "completed" needs a oneshot service, and db is simple'],
    ],
  ];
  test.each(cases)("%s", async (_title, defs, expected) => {
    expect(await problemsOf(services(defs))).toEqual(expected);
  });

  test("a broken definition still has its references checked, and joins cycles", async () => {
    const problems = await problemsOf(services({ api: "command: a\nport: 0\ndepends_on: [dbb, web]\n", db: "command: d\n", web: "command: w\nafter: [api]\n" }));
    expect(problems).toEqual([
      "services/api.yml:2:7: port: must be a port number (1-65535)",
      'services/api.yml:3:14: depends_on.0: unknown service "dbb" (did you mean "db"?)',
      "services/api.yml:3:19: depends_on.1: dependency cycle: api -> web -> api",
    ]);
  });

  test("inline services: positions in sv.yml", async () => {
    const yaml = ["services:", "  a:", "    command: a", "    depends_on: [b]", "  b:", "    command: b", "    depends_on: [a, zz]"].join("\n");
    expect(await problemsOf({ "sv.yml": yaml })).toEqual([
      "sv.yml:4:18: services.a.depends_on.0: dependency cycle: a -> b -> a",
      'sv.yml:7:21: services.b.depends_on.1: unknown service "zz"',
    ]);
  });

  test("a valid graph loads, with conditions", async () => {
    const project = await load(
      services({
        db: "command: d\nport: 5432\n",
        migrate: "command: m\ntype: oneshot\ndepends_on: [db]\n",
        api: "command: a\ndepends_on:\n  db: { condition: healthy }\n  migrate: { condition: completed }\n  cache:\n",
        cache: "command: c\n",
      }),
    );
    expect(project.services.get("api")!.dependsOn).toEqual({ db: "healthy", migrate: "completed", cache: undefined });
    expect(project.services.get("migrate")!.dependsOn).toEqual({ db: undefined });
  });
});

describe("other cross-key rules", () => {
  const cases: [string, string, string[]][] = [
    ["a tcp check without a port", "command: a\nhealth_check:\n  type: tcp\n", ["services/api.yml:3:3: health_check: a tcp health check needs a port (set port: or health_check.port)"]],
    ["a oneshot with restart: always", "command: a\ntype: oneshot\nrestart: always\n", ['services/api.yml:3:10: restart: a oneshot service cannot use restart: always (use "no" or "on-failure")']],
  ];
  test.each(cases)("%s", async (_title, yaml, expected) => {
    expect(await problemsOf({ "services/api.yml": yaml })).toEqual(expected);
  });
});

describe("health checks as loaded", () => {
  const defaults = { host: "127.0.0.1", expectedStatus: 200, expectedExitCode: 0, intervalMs: 1000, timeoutMs: 2000, retries: 3, startPeriodMs: 0 };
  const cases: [string, string, Record<string, unknown>][] = [
    ["none and no port: the process must be alive", "command: a\n", { type: "process" }],
    ["none with a port: tcp on it", "command: a\nport: 8080\n", { type: "tcp", port: 8080 }],
    ["only timings with a port: the implied tcp check, tuned", "command: a\nport: 8080\nhealth_check: { interval: 5s, retries: 1 }\n", { type: "tcp", port: 8080, intervalMs: 5000, retries: 1 }],
    ["url without type: http", "command: a\nhealth_check: { url: 'http://127.0.0.1:1/h', expected_status: 204 }\n", { type: "http", url: "http://127.0.0.1:1/h", expectedStatus: 204 }],
    ["command without type", "command: a\nhealth_check: { command: [pg_isready], expected_exit_code: 3 }\n", { type: "command", command: ["pg_isready"], expectedExitCode: 3 }],
    ["tcp on another host and port", "command: a\nport: 80\nhealth_check: { host: db.local, port: 5432, timeout: 250ms }\n", { type: "tcp", host: "db.local", port: 5432, timeoutMs: 250 }],
  ];
  test.each(cases)("%s", async (_title, yaml, expected) => {
    const project = await load({ "services/api.yml": yaml });
    const hc = project.services.get("api")!.healthCheck;
    expect(Object.fromEntries(Object.entries(hc).filter(([, x]) => x !== undefined))).toEqual({ ...defaults, ...expected });
  });
});
