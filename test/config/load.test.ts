// Loading a project: which files count, sv.yml settings and inline services, document shapes, syntax errors, names.
import { describe, expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { loadProject } from "../../src/config/load.ts";
import { tempProject } from "../helpers/project.ts";
import { load, problemsOf } from "./helpers.ts";

describe("files and settings", () => {
  test("services/*.yml and *.yaml are services named after the file; other files are ignored", async () => {
    const project = await load({
      "services/api.yml": "command: a\n",
      "services/db.yaml": "command: b\n",
      "services/notes.txt": "not yaml: [",
      "services/.hidden.yml": "not: [valid",
      "services/sub/x.yml": "command: c\n",
    });
    expect([...project.services.keys()]).toEqual(["api", "db"]);
    expect(project.services.get("db")!.file).toBe(join(project.root, "services/db.yaml"));
  });

  test("name: overrides the file stem", async () => {
    const project = await load({ "services/API server.yml": "name: api\ncommand: a\n" });
    expect([...project.services.keys()]).toEqual(["api"]);
  });

  test("defaults when there is no sv.yml", async () => {
    const project = await load({ "services/api.yml": "command: a\n" });
    expect(project.stateDir).toBe(join(project.root, ".sv"));
    expect(project.maxParallel).toBe(32);
    expect(project.defaultTimeoutMs).toBe(60_000);
  });

  test("sv.yml settings; an empty sv.yml is fine", async () => {
    const project = await load({ "sv.yml": "state_dir: var/sv\nmax_parallel: 2\ndefault_timeout: 90s\n" });
    expect([project.stateDir, project.maxParallel, project.defaultTimeoutMs]).toEqual([join(project.root, "var/sv"), 2, 90_000]);
    expect((await load({ "sv.yml": "" })).services.size).toBe(0);
    expect((await load({ "sv.yml": "# only a comment\n" })).services.size).toBe(0);
  });

  test("inline services in sv.yml are keyed by name and come first", async () => {
    const project = await load({ "sv.yml": "services:\n  web:\n    command: w\n", "services/api.yml": "command: a\n" });
    expect([...project.services.keys()]).toEqual(["web", "api"]);
    expect(project.services.get("web")!.path).toEqual(["services", "web"]);
  });
});

describe("YAML conveniences", () => {
  test("anchors and merge keys, with x- keys to hold them (ignored, as in docker compose)", async () => {
    const yaml = [
      "x-defaults: &defaults",
      "  restart: always",
      "  stop_timeout: 3s",
      "  x-note: anything",
      "services:",
      "  api:",
      "    <<: *defaults",
      "    command: a",
      "  web:",
      "    <<: *defaults",
      "    command: w",
      "    restart: 'no'",
    ].join("\n");
    const project = await load({ "sv.yml": yaml });
    expect([...project.services.values()].map((s) => [s.name, s.restart, s.stopTimeoutMs])).toEqual([
      ["api", "always", 3000],
      ["web", "no", 3000],
    ]);
  });

  test("a service file that cannot be read (a dangling symlink)", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    symlinkSync(join(p.root, "nowhere.yml"), join(p.root, "services/db.yml"));
    await expect(loadProject(p.root, {})).rejects.toMatchObject({ problems: ["services/db.yml:1:1: cannot read the file (ENOENT)"] });
  });
});

describe("sv.yml api: settings", () => {
  test("tokens, tls and listen, paths resolved against the root", async () => {
    const yaml = "api:\n  listen: 127.0.0.1:9090\n  tokens:\n    - { token: '${TOKEN}', role: operate }\n    - token_file: secrets/read.token\n  tls: { cert: tls/cert.pem, key: tls/key.pem }\n";
    const project = await load({ "sv.yml": yaml }, { TOKEN: "0123456789abcdef0123" });
    expect(project.api).toEqual({
      listen: "127.0.0.1:9090",
      tokens: [
        { token: "0123456789abcdef0123", tokenFile: undefined, role: "operate" },
        { token: undefined, tokenFile: join(project.root, "secrets/read.token"), role: "read" },
      ],
      tls: { certFile: join(project.root, "tls/cert.pem"), keyFile: join(project.root, "tls/key.pem") },
      allowInsecure: false,
      secretEnv: ["TOKEN"],
    });
  });

  const cases: [string, string, string[]][] = [
    ["unknown key", "api:\n  listn: ':9090'\n", ['sv.yml:2:3: api.listn: unknown key "listn" (did you mean "listen"?)']],
    ["a short token", "api:\n  tokens: [{ token: abc }]\n", ["sv.yml:2:21: api.tokens.0.token: must be at least 16 characters"]],
    ["a bad role", "api:\n  tokens: [{ token: 0123456789abcdef, role: admin }]\n", ['sv.yml:2:45: api.tokens.0.role: must be one of read, operate (got "admin")']],
    ["neither token nor token_file", "api:\n  tokens: [{ role: read }]\n", ["sv.yml:2:12: api.tokens.0: each token needs exactly one of token: or token_file:"]],
    ["tls without key", "api:\n  tls: { cert: c.pem }\n", ["sv.yml:2:3: api.tls.key: is required"]],
  ];
  test.each(cases)("%s", async (_title, yaml, expected) => {
    expect(await problemsOf({ "sv.yml": yaml })).toEqual(expected);
  });
});

describe("settings problems", () => {
  const cases: [string, string, string[]][] = [
    ["unknown key", "max_paralel: 2\n", ['sv.yml:1:1: max_paralel: unknown key "max_paralel" (did you mean "max_parallel"?)']],
    ["bad max_parallel", "max_parallel: 0\n", ["sv.yml:1:15: max_parallel: must be a whole number of at least 1"]],
    ["bad default_timeout", "default_timeout: forever\n", ['sv.yml:1:18: default_timeout: must be a duration like "250ms", "2s", "1m", "1h" or a number of seconds']],
    ["empty state_dir", "state_dir: ''\n", ["sv.yml:1:12: state_dir: must not be empty"]],
    ["include a mapping", "include: { a: b }\n", ["sv.yml:1:10: include: must be a list of files, globs or URLs"]],
    ["services a list", "services: [a]\n", ["sv.yml:1:11: services: must be a mapping of name -> service definition"]],
    ["a list document", "- a\n- b\n", ["sv.yml:1:1: expected a mapping of settings like services: ..., got a list"]],
    ["a scalar document", "hello\n", ["sv.yml:1:1: expected a mapping of settings like services: ..., got a string"]],
  ];
  test.each(cases)("%s", async (_title, yaml, expected) => {
    expect(await problemsOf({ "sv.yml": yaml })).toEqual(expected);
  });

  test("a bad setting does not hide the problems of inline services", async () => {
    const yaml = ["max_parallel: many", "services:", "  api:", "    command: a", "    prot: 1", "  web:", "    description: no command"].join("\n");
    expect(await problemsOf({ "sv.yml": yaml })).toEqual([
      "sv.yml:1:15: max_parallel: must be a whole number of at least 1",
      'sv.yml:5:5: services.api.prot: unknown key "prot" (did you mean "port"?)',
      "sv.yml:6:3: services.web.command: is required",
    ]);
  });

  test("an inline service that is not a mapping", async () => {
    expect(await problemsOf({ "sv.yml": "services:\n  api:\n  web: bun run web.ts\n" })).toEqual([
      "sv.yml:2:3: services.api: must be a mapping like command: ...",
      "sv.yml:3:8: services.web: must be a mapping like command: ...",
    ]);
  });

  test("inline service positions point into sv.yml, list items at the item", async () => {
    const yaml = ["services:", "  api:", "    command: [a, b]", "    depends_on: [db, Web]", "    on_failure:", "      - command: ''"].join("\n");
    expect(await problemsOf({ "sv.yml": yaml })).toEqual([
      'sv.yml:4:22: services.api.depends_on.1: "Web" is not a valid service name (names match [a-z0-9][a-z0-9_-]{0,62})',
      "sv.yml:6:18: services.api.on_failure.0.command: must not be empty",
    ]);
  });
});

describe("document shapes and syntax", () => {
  const cases: [string, string, string[]][] = [
    ["an empty file", "", ["services/api.yml:1:1: the file is empty (expected a mapping like command: ...)"]],
    ["only comments", "# nothing yet\n", ["services/api.yml:1:1: the file is empty (expected a mapping like command: ...)"]],
    ["a list", "- command: x\n", ["services/api.yml:1:1: expected a mapping like command: ..., got a list"]],
    ["a scalar", "bun run server.ts\n", ["services/api.yml:1:1: expected a mapping like command: ..., got a string"]],
    ["a number", "42\n", ["services/api.yml:1:1: expected a mapping like command: ..., got a number"]],
    ["two documents", "command: a\n---\ncommand: b\n", ["services/api.yml:3:1: expected one YAML document, found 2 (separated by ---)"]],
    ["an unclosed flow list", "command: [a, b\nport: 1\n", ["services/api.yml:2:1: invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]"]],
    ["bad indentation", "command: a\nenv:\n  A: 1\n   B: 2\n", ["services/api.yml:3:6: invalid YAML: nested mappings are not allowed in compact mappings"]],
    ["an unclosed quote", "command: 'a\n", ["services/api.yml:2:1: invalid YAML: missing closing 'quote"]],
    ["a tab as indentation", "env:\n\tA: 1\ncommand: x\n", ["services/api.yml:2:1: invalid YAML: tabs are not allowed as indentation"]],
  ];
  test.each(cases)("%s", async (_title, yaml, expected) => {
    expect(await problemsOf({ "services/api.yml": yaml })).toEqual(expected);
  });

  test("a syntax error in one file does not hide problems in others", async () => {
    const problems = await problemsOf({ "services/a.yml": "command: [x\n", "services/b.yml": "command: x\nport: 0\n" });
    expect(problems).toEqual([
      "services/a.yml:2:1: invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]",
      "services/b.yml:2:7: port: must be a port number (1-65535)",
    ]);
  });
});

describe("names", () => {
  test("a file stem that is not a valid name", async () => {
    expect(await problemsOf({ "services/My_API.yml": "command: a\n" })).toEqual([
      'services/My_API.yml:1:1: "My_API" is not a valid service name (names match [a-z0-9][a-z0-9_-]{0,62}); rename the file or set name:',
    ]);
  });

  test("an inline key that is not a valid name", async () => {
    expect(await problemsOf({ "sv.yml": "services:\n  Web App:\n    command: a\n" })).toEqual([
      'sv.yml:2:3: services.Web App: "Web App" is not a valid service name (names match [a-z0-9][a-z0-9_-]{0,62}); rename the key',
    ]);
  });

  test("name: of an inline service must be its key", async () => {
    expect(await problemsOf({ "sv.yml": "services:\n  web:\n    name: www\n    command: a\n" })).toEqual([
      'sv.yml:3:11: services.web.name: must be "web", the key it is defined under (or left out)',
    ]);
  });

  test("the same name in two files, in a file and sv.yml, and via name:", async () => {
    const problems = await problemsOf({
      "sv.yml": "services:\n  api:\n    command: a\n",
      "services/api.yml": "command: b\n",
      "services/api.yaml": "command: c\n",
      "services/other.yml": "name: api\ncommand: d\n",
    });
    expect(problems).toEqual([
      'services/api.yaml:1:1: service "api" is already defined in sv.yml',
      'services/api.yml:1:1: service "api" is already defined in sv.yml',
      'services/other.yml:1:7: name: service "api" is already defined in sv.yml',
    ]);
  });

  test("a broken definition still claims its name: no second 'unknown service' for it", async () => {
    const problems = await problemsOf({ "services/db.yml": "command: a\nport: 0\n", "services/api.yml": "command: b\ndepends_on: [db]\n" });
    expect(problems).toEqual(["services/db.yml:2:7: port: must be a port number (1-65535)"]);
  });
});

describe("several problems at once, in a stable order", () => {
  test("by file in load order (sv.yml, services/ by name, includes), then by position", async () => {
    const files = {
      "sv.yml": "include: [more/*.yml]\nservices:\n  web:\n    command: w\n    port: x\n",
      "services/b.yml": "stop_signal: nope\ncommand: b\ntype: sometimes\n",
      "services/a.yml": "port: 0\n",
      "more/c.yml": "command: c\nrestart: maybe\n",
    };
    const expected = [
      "sv.yml:5:11: services.web.port: must be a port number (1-65535)",
      "services/a.yml:1:1: command: is required",
      "services/a.yml:1:7: port: must be a port number (1-65535)",
      "services/b.yml:1:14: stop_signal: must be a signal name like SIGTERM, SIGINT or SIGHUP",
      'services/b.yml:3:7: type: must be one of simple, oneshot, on-demand, multi-shot (got "sometimes")',
      'more/c.yml:2:10: restart: must be one of no, on-failure, always (got "maybe")',
    ];
    expect(await problemsOf(files)).toEqual(expected);
    expect(await problemsOf(files)).toEqual(expected);
  });
});
