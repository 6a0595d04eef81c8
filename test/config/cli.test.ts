// The compiled sv on broken and valid configs: exit codes, the exact stderr, root discovery, duplicate keys.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sv, tempProject } from "../helpers/project.ts";

describe("sv validate", () => {
  test("a valid project: exit 0 and a one-line summary", async () => {
    const p = tempProject({ "services/api.yml": "command: x\n", "services/db.yml": "command: y\n" });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, `✓ 2 services in ${p.root}: no problems\n`, ""]);
  });

  test("every problem on its own line, then a summary; exit 2, no stack trace", async () => {
    const p = tempProject({
      "services/api.yml": "command: x\nhelth_check: {}\nport: 99999\ndepends_on: [dbb]\n",
      "services/db.yml": "command: y\nstop_timeout: soon\n",
    });
    const r = await sv(p.root, ["validate"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      [
        'services/api.yml:2:1: helth_check: unknown key "helth_check" (did you mean "health_check"?)',
        "services/api.yml:3:7: port: must be a port number (1-65535)",
        'services/api.yml:4:14: depends_on.0: unknown service "dbb" (did you mean "db"?)',
        'services/db.yml:2:15: stop_timeout: must be a duration like "250ms", "2s", "1m", "1h" or a number of seconds',
        "✘ 4 problems in the configuration",
        "",
      ].join("\n"),
    );
  });

  test("one problem: the line and a short summary", async () => {
    const p = tempProject({ "services/a.yml": "command: a\ndepends_on: [b]\n", "services/b.yml": "command: b\ndepends_on: [a]\n" });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([2, "services/a.yml:2:14: depends_on.0: dependency cycle: a -> b -> a\n✘ the configuration has a problem\n"]);
  });

  test("--json prints the problems as one document on stdout", async () => {
    const p = tempProject({ "services/api.yml": "command: x\nport: 0\n" });
    const r = await sv(p.root, ["validate", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, root: p.root, problems: ["services/api.yml:2:7: port: must be a port number (1-65535)"] });
  });

  test("duplicate keys: sv validate reports them; other commands use the last one unless the config is broken anyway", async () => {
    const p = tempProject({ "services/api.yml": "command: x\nport: 8080\nenv:\n  A: 1\n  A: 2\nport: 8081\n" });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([
      2,
      "services/api.yml:5:3: env.A: duplicate key (first at line 4)\nservices/api.yml:6:1: port: duplicate key (first at line 2)\n✘ 2 problems in the configuration\n",
    ]);
    const list = await sv(p.root, ["list", "--json"]);
    expect(list.code).toBe(0);
    p.write("services/db.yml", "command: y\nport: 0\n");
    const broken = await sv(p.root, ["list"]);
    expect([broken.code, broken.stderr]).toEqual([
      2,
      [
        "services/api.yml:5:3: env.A: duplicate key (first at line 4)",
        "services/api.yml:6:1: port: duplicate key (first at line 2)",
        "services/db.yml:2:7: port: must be a port number (1-65535)",
        "✘ 3 problems in the configuration",
        "",
      ].join("\n"),
    ]);
  });

  test("a YAML syntax error has its position", async () => {
    const p = tempProject({ "sv.yml": "services:\n  api:\n    command: [a, b\n" });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([2, "sv.yml:4:1: invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]\n✘ the configuration has a problem\n"]);
  });

  test("other commands refuse a broken config the same way, before touching anything", async () => {
    const p = tempProject({ "services/api.yml": "command: x\ntype: daemon\n" });
    const r = await sv(p.root, ["up"]);
    expect([r.code, r.stderr]).toEqual([2, 'services/api.yml:2:7: type: must be one of simple, oneshot, on-demand, multi-shot (got "daemon")\n✘ the configuration has a problem\n']);
    expect(existsSync(join(p.root, ".sv"))).toBe(false);
  });
});

describe("project root", () => {
  test("found from a nested directory", async () => {
    const p = tempProject({ "services/api.yml": "command: x\n", "src/deep/er/.keep": "" });
    const r = await sv(join(p.root, "src/deep/er"), ["validate"]);
    expect([r.code, r.stdout]).toEqual([0, `✓ 1 service in ${p.root}: no problems\n`]);
  });

  test("sv.yml alone marks a root", async () => {
    const p = tempProject({ "sv.yml": "services:\n  web: { command: w }\n", "docs/.keep": "" });
    const r = await sv(join(p.root, "docs"), ["validate"]);
    expect([r.code, r.stdout]).toEqual([0, `✓ 1 service in ${p.root}: no problems\n`]);
  });

  test("--root and SV_ROOT override the search; --root wins", async () => {
    const a = tempProject({ "services/a.yml": "command: a\n" });
    const b = tempProject({ "services/b.yml": "command: b\n", "services/c.yml": "command: c\n" });
    expect((await sv(a.root, ["validate", "--root", b.root])).stdout).toBe(`✓ 2 services in ${b.root}: no problems\n`);
    expect((await sv(a.root, ["validate"], { env: { SV_ROOT: b.root } })).stdout).toBe(`✓ 2 services in ${b.root}: no problems\n`);
    expect((await sv(a.root, ["validate", "--root", a.root], { env: { SV_ROOT: b.root } })).stdout).toBe(`✓ 1 service in ${a.root}: no problems\n`);
  });

  test("a --root that is not a directory", async () => {
    const p = tempProject();
    const r = await sv(p.root, ["validate", "--root", "nope"]);
    expect([r.code, r.stderr]).toEqual([2, `✘ project root ${join(p.root, "nope")} is not a directory\n  hint: check --root or SV_ROOT\n`]);
  });

  test("no project anywhere above: exit 2 with a hint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sv-noproject-"));
    try {
      for (let d = dir; dirname(d) !== d; d = dirname(d)) {
        if (existsSync(join(d, "sv.yml")) || existsSync(join(d, "services"))) return; // the machine has a project above tmp: nothing to test
      }
      mkdirSync(join(dir, "sub"));
      const r = await sv(join(dir, "sub"), ["validate"], { env: { SV_ROOT: "" } });
      expect([r.code, r.stdout, r.stderr]).toEqual([
        2,
        "",
        `✘ no sv project found in ${join(dir, "sub")} or any parent directory\n  hint: create services/NAME.yml (or sv.yml), or pass --root DIR\n`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
