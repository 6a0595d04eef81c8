// Instance ports (instance i of a service with port P serves on P+i) and the rule that no two services share one.
import { describe, expect, test } from "bun:test";
import { instancePort, servicePorts } from "../../src/config/ports.ts";
import { load, problemsOf } from "./helpers.ts";

/** A project of services/NAME.yml files. */
const services = (defs: Record<string, string>) => Object.fromEntries(Object.entries(defs).map(([name, yaml]) => [`services/${name}.yml`, yaml]));

describe("instance ports", () => {
  const cases: [string, { port?: number; instances: number }, (number | undefined)[], number[]][] = [
    ["one instance", { port: 8080, instances: 1 }, [8080], [8080]],
    ["three instances count up from the port", { port: 8080, instances: 3 }, [8080, 8081, 8082], [8080, 8081, 8082]],
    ["no port", { instances: 2 }, [undefined, undefined], []],
    ["the last port", { port: 65535, instances: 1 }, [65535], [65535]],
  ];
  test.each(cases)("%s", (_title, svc, perInstance, all) => {
    expect(Array.from({ length: svc.instances }, (_, i) => instancePort(svc, i))).toEqual(perInstance);
    expect(servicePorts(svc)).toEqual(all);
  });

  test("a loaded service: the ports of its instances", async () => {
    const project = await load(services({ api: "command: a\nport: 9000\ninstances: 4\n" }));
    const api = project.services.get("api")!;
    expect(servicePorts(api)).toEqual([9000, 9001, 9002, 9003]);
    expect(instancePort(api, 2)).toBe(9002);
  });
});

describe("port problems", () => {
  const cases: [string, Record<string, string>, string[]][] = [
    [
      "an instance range running into another service's port",
      { api: "command: a\nport: 8080\ninstances: 2\n", web: "command: w\nport: 8081\n" },
      ["services/web.yml:2:7: port: port 8081 of web is also the port of api.1 (api.yml)"],
    ],
    ["the same port twice", { api: "command: a\nport: 8080\n", web: "command: w\nport: 8080\n" }, ["services/web.yml:2:7: port: port 8080 of web is also the port of api (api.yml)"]],
    [
      "two ranges overlapping: the first shared port is named",
      { api: "command: a\nport: 8080\ninstances: 3\n", web: "command: w\nport: 8081\ninstances: 3\n" },
      ["services/web.yml:2:7: port: port 8081 of web.0 is also the port of api.1 (api.yml)"],
    ],
    [
      "a later range covering an earlier port",
      { api: "command: a\nport: 8082\n", web: "command: w\nport: 8080\ninstances: 5\n" },
      ["services/web.yml:2:7: port: port 8082 of web.2 is also the port of api (api.yml)"],
    ],
    [
      "three services on one port: each pair once, at the later one",
      { a: "command: a\nport: 7000\n", b: "command: b\nport: 7000\n", c: "command: c\nport: 7000\n" },
      [
        "services/b.yml:2:7: port: port 7000 of b is also the port of a (a.yml)",
        "services/c.yml:2:7: port: port 7000 of c is also the port of a (a.yml)",
        "services/c.yml:2:7: port: port 7000 of c is also the port of b (b.yml)",
      ],
    ],
    ["a range passing 65535", { api: "command: a\nport: 65534\ninstances: 3\n" }, ["services/api.yml:2:7: port: 3 instances need ports 65534-65536, past 65535 (lower port: or instances:)"]],
    [
      "a range passing 65535 still clashes below it",
      { api: "command: a\nport: 65535\n", web: "command: w\nport: 65530\ninstances: 10\n" },
      [
        "services/web.yml:2:7: port: 10 instances need ports 65530-65539, past 65535 (lower port: or instances:)",
        "services/web.yml:2:7: port: port 65535 of web.5 is also the port of api (api.yml)",
      ],
    ],
  ];
  test.each(cases)("%s", async (_title, defs, expected) => {
    expect(await problemsOf(services(defs))).toEqual(expected);
  });

  test("inline services in sv.yml against one in services/", async () => {
    const yaml = ["services:", "  api:", "    command: a", "    port: 8080", "    instances: 2", "  db:", "    command: d", "    port: 8080"].join("\n");
    expect(await problemsOf({ "sv.yml": yaml, "services/web.yml": "command: w\nport: 8081\n" })).toEqual([
      "sv.yml:8:11: services.db.port: port 8080 of db is also the port of api.0",
      "services/web.yml:2:7: port: port 8081 of web is also the port of api.1 (../sv.yml)",
    ]);
  });

  test("an included file is named relative to the file reporting it", async () => {
    const files = { "sv.yml": "include: [extra/web.yml]\n", "extra/web.yml": "command: w\nport: 8080\n", "services/api.yml": "command: a\nport: 8080\n" };
    expect(await problemsOf(files)).toEqual(["extra/web.yml:2:7: port: port 8080 of web is also the port of api (../services/api.yml)"]);
  });

  const fine: [string, Record<string, string>][] = [
    ["ranges side by side", { api: "command: a\nport: 8080\ninstances: 2\n", web: "command: w\nport: 8082\ninstances: 2\n" }],
    ["a range ending at 65535", { api: "command: a\nport: 65533\ninstances: 3\n" }],
    ["services without a port", { api: "command: a\ninstances: 3\n", web: "command: w\n" }],
  ];
  test.each(fine)("no problem: %s", async (_title, defs) => {
    expect(await problemsOf(services(defs))).toEqual([]);
  });
});
