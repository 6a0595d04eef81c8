// include: in sv.yml: single files, globs, files with a services: map, and http(s) URLs served by a real local server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempProject } from "../helpers/project.ts";
import { load, problemsOf } from "./helpers.ts";

describe("files and globs", () => {
  test("a single file is one service named after it", async () => {
    const project = await load({ "sv.yml": "include: [extra/cache.yml]\n", "extra/cache.yml": "command: c\n" });
    expect([...project.services.keys()]).toEqual(["cache"]);
    expect(project.services.get("cache")!.file).toBe(join(project.root, "extra/cache.yml"));
  });

  test("a glob, in name order; a plain string works as a one-item list", async () => {
    const project = await load({ "sv.yml": "include: ./more/*.yml\n", "more/b.yml": "command: b\n", "more/a.yml": "command: a\n", "more/c.txt": "x" });
    expect([...project.services.keys()]).toEqual(["a", "b"]);
  });

  test("a file with a services: map holds many, JSON too", async () => {
    const project = await load({
      "sv.yml": "include: [stack.yml, extra.json]\n",
      "stack.yml": "services:\n  db: { command: d }\n  cache: { command: c }\n",
      "extra.json": '{ "services": { "queue": { "command": ["q", "--fast"], "port": 5672 } } }',
    });
    expect([...project.services.keys()]).toEqual(["db", "cache", "queue"]);
    expect(project.services.get("queue")!.command).toEqual(["q", "--fast"]);
  });

  test("a glob matching nothing is fine (like nginx include); a missing plain file is not", async () => {
    expect(await problemsOf({ "sv.yml": "include: [local/*.yml]\n" })).toEqual([]);
    expect(await problemsOf({ "sv.yml": "include:\n  - a.yml\n  - local.yml\n", "a.yml": "command: a\n" })).toEqual(["sv.yml:3:5: include.1: local.yml does not exist"]);
  });

  test("an absolute path outside the root is named in full", async () => {
    const outside = tempProject({ "shared/cache.yml": "command: c\nport: 0\n" });
    const file = join(outside.root, "shared/cache.yml");
    expect(await problemsOf({ "sv.yml": `include: ['${file}']\n` })).toEqual([`${file}:2:7: port: must be a port number (1-65535)`]);
    expect(await problemsOf({ "sv.yml": `include: ['${outside.root}/shared/*.yml']\n` })).toEqual([`${file}:2:7: port: must be a port number (1-65535)`]);
  });

  test("a folder needs a glob", async () => {
    expect(await problemsOf({ "sv.yml": "include: [more]\n", "more/a.yml": "command: a\n" })).toEqual(["sv.yml:1:11: include.0: more is not a file (to include a folder, write more/*.yml)"]);
  });

  test("a file already loaded is not loaded twice", async () => {
    const project = await load({ "sv.yml": "include: ['services/*.yml', 'sv.yml']\n", "services/api.yml": "command: a\n" });
    expect([...project.services.keys()]).toEqual(["api"]);
  });

  test("problems in included files point into them", async () => {
    const problems = await problemsOf({
      "sv.yml": "include: ['inc/*']\n",
      "inc/a.yml": "services:\n  a: { command: a, port: 0 }\nextra: 1\n",
      "inc/b.json": '{\n  "command": "b",\n  "restart": "sometimes"\n}\n',
      "inc/c.yml": "- not a service\n",
      "inc/d.yml": "services: [x]\n",
    });
    expect(problems).toEqual([
      "inc/a.yml:2:26: services.a.port: must be a port number (1-65535)",
      'inc/a.yml:3:1: extra: unknown key "extra" (a file with services: holds nothing else)',
      'inc/b.json:3:14: restart: must be one of no, on-failure, always (got "sometimes")',
      "inc/c.yml:1:1: expected a mapping like command: ... or services: NAME: ..., got a list",
      "inc/d.yml:1:11: services: must be a mapping of name -> service definition",
    ]);
  });
});

describe("http(s) URLs", () => {
  let server: ReturnType<typeof Bun.serve>;
  let base: string;
  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/stack.yaml") return new Response("services:\n  db: { command: d, port: 5432 }\n");
        if (path === "/worker.json") return new Response('{"command": "w", "depends_on": ["db"]}');
        if (path === "/bad.yaml") return new Response("services:\n  x: { command: x, prot: 1 }\n");
        return new Response("not found", { status: 404 });
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop(true));

  test("YAML with services: and JSON of one service named after the URL", async () => {
    const project = await load({ "sv.yml": `include:\n  - ${base}/stack.yaml\n  - ${base}/worker.json?v=2\n` });
    expect([...project.services.keys()]).toEqual(["db", "worker"]);
    expect(project.services.get("worker")!.file).toBe(`${base}/worker.json?v=2`);
    expect(project.services.get("db")!.port).toBe(5432);
  });

  test("the same URL twice is fetched once", async () => {
    const project = await load({ "sv.yml": `include: ['${base}/stack.yaml', '${base}/stack.yaml']\n` });
    expect([...project.services.keys()]).toEqual(["db"]);
  });

  test("an HTTP error is a problem at the include entry", async () => {
    expect(await problemsOf({ "sv.yml": `include: ['${base}/missing.yaml']\n` })).toEqual([`sv.yml:1:11: include.0: cannot fetch ${base}/missing.yaml: HTTP 404`]);
  });

  test("problems in a fetched document name the URL with positions", async () => {
    expect(await problemsOf({ "sv.yml": `include: ['${base}/bad.yaml']\n` })).toEqual([`${base}/bad.yaml:2:20: services.x.prot: unknown key "prot" (did you mean "port"?)`]);
  });

  test("the URL may come from a variable", async () => {
    const project = await load({ "sv.yml": "include: ['${CONFIG_URL}/stack.yaml']\n" }, { CONFIG_URL: base });
    expect([...project.services.keys()]).toEqual(["db"]);
  });
});
