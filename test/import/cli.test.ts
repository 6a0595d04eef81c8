// sv import as a command: bad input is one line with a hint and exit 2 with nothing written; existing files are never
// overwritten without --force (and then nothing at all is written); a re-import gives the same bytes; --out and --json.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sv, tempProject } from "../helpers/project.ts";
import { projectWith, serviceFiles } from "./support.ts";

const listed = (root: string) => (existsSync(join(root, "services")) ? readdirSync(join(root, "services")).sort() : []);

describe("bad input: one line, a hint, exit 2, nothing written", () => {
  const cases: [string, string[], (root: string) => void, string][] = [
    ["a missing file", ["import", "compose", "nope.yml"], () => {}, "✘ cannot read nope.yml: no such file\n  hint: check the path of the compose file\n"],
    ["an unknown format word", ["import", "supervisor", "x.conf"], () => {}, "✘ unknown format \"supervisor\"\n  hint: did you mean `sv import supervisord`? (formats: compose, process-compose, procfile, supervisord)\n"],
    ["docker-compose for compose", ["import", "docker-compose", "x.yml"], () => {}, "✘ unknown format \"docker-compose\"\n  hint: did you mean `sv import compose`? (formats: compose, process-compose, procfile, supervisord)\n"],
    ["no format", ["import"], () => {}, "✘ sv import needs a format and a file\n  hint: sv import compose|process-compose|procfile|supervisord FILE\n"],
    ["no file", ["import", "procfile"], () => {}, "✘ sv import procfile needs a file\n  hint: e.g. sv import procfile Procfile\n"],
    ["two files", ["import", "procfile", "a", "b"], () => {}, "✘ sv import takes one file (got 2)\n  hint: import each file on its own: sv import procfile FILE\n"],
    ["unparseable YAML", ["import", "compose", "bad.yml"], (r) => writeFileSync(join(r, "bad.yml"), "services:\n  web: [a\n"), "✘ bad.yml:3:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]\n  hint: is it a compose file? fix the YAML, or check the format word\n"],
    ["YAML that is no compose file", ["import", "compose", "pc.yml"], (r) => writeFileSync(join(r, "pc.yml"), "processes:\n  web: { command: x }\n"), "✘ pc.yml is not a compose file: it has no services: mapping\n  hint: check the format word: sv import compose|process-compose|procfile|supervisord FILE\n"],
    ["a compose file given as process-compose", ["import", "process-compose", "c.yml"], (r) => writeFileSync(join(r, "c.yml"), "services:\n  web: { image: x }\n"), "✘ c.yml is not a process-compose file: it has no processes: mapping\n  hint: check the format word: sv import compose|process-compose|procfile|supervisord FILE\n"],
    ["a Procfile without entries", ["import", "procfile", "Procfile"], (r) => writeFileSync(join(r, "Procfile"), "# nothing\nweb\n"), "✘ Procfile:2 is not a Procfile: no \"name: command\" lines\n  hint: a Procfile has lines like \"web: bundle exec puma -p $PORT\"; check the format word\n"],
    ["an INI error", ["import", "supervisord", "s.conf"], (r) => writeFileSync(join(r, "s.conf"), "[program:a]\ncommand=sleep 1\nthis is no ini\n"), "✘ s.conf:3: not a supervisord config: expected \"key = value\" or \"[section]\"\n  hint: supervisord.conf is INI: [program:NAME] sections of key = value lines; check the format word\n"],
    ["a config with no programs", ["import", "supervisord", "s.conf"], (r) => writeFileSync(join(r, "s.conf"), "[supervisord]\nnodaemon=true\n"), "✘ s.conf has no [program:NAME] sections\n  hint: is it a supervisord config? check the format word and its [include] files=\n"],
    ["a program without command", ["import", "supervisord", "s.conf"], (r) => writeFileSync(join(r, "s.conf"), "[program:a]\nautostart=true\n"), "✘ s.conf:1: [program:a] has no command=\n  hint: supervisord requires one for every program\n"],
    ["a binary file", ["import", "procfile", "bin"], (r) => writeFileSync(join(r, "bin"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1])), "✘ bin is not a text file, so not a Procfile\n  hint: check the file name and the format word\n"],
    ["a directory", ["import", "procfile", "."], () => {}, "✘ . is a directory, not a Procfile\n  hint: name the file itself, e.g. ./Procfile\n"],
  ];
  test.each(cases)("%s", async (_, args, setup, stderr) => {
    const p = tempProject();
    setup(p.root);
    const r = await sv(p.root, args);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 2, stdout: "", stderr });
    expect(listed(p.root)).toEqual([]);
  });
});

test("re-importing the same file gives the same bytes, and leaves identical files alone without --force", async () => {
  const p = projectWith("supervisord");
  expect((await sv(p.root, ["import", "supervisord", "src/supervisord.conf"])).code).toBe(0);
  const first = serviceFiles(p.root);
  const again = await sv(p.root, ["import", "supervisord", "src/supervisord.conf"]);
  expect(again.code).toBe(0);
  expect(again.stdout.split("\n").slice(0, 4)).toEqual(["= services/migrate.yml unchanged", "= services/web.yml unchanged", "= services/worker.yml unchanged", "= services/report.yml unchanged"]);
  expect(serviceFiles(p.root)).toEqual(first);
  // From another directory, naming the file another way: still the same bytes.
  mkdirSync(join(p.root, "elsewhere"));
  expect((await sv(join(p.root, "elsewhere"), ["import", "supervisord", "../src/./supervisord.conf", "--root", ".."])).code).toBe(0);
  expect(serviceFiles(p.root)).toEqual(first);
});

test("a file that differs blocks the whole import without --force; --force overwrites and says so", async () => {
  const p = projectWith("procfile");
  expect((await sv(p.root, ["import", "procfile", "src/Procfile"])).code).toBe(0);
  const imported = serviceFiles(p.root);
  p.write("services/web.yml", "command: my own web\n");
  p.write("services/worker.yml", "command: my own worker\n");
  const rmFile = join(p.root, "services", "clock.yml");
  Bun.spawnSync(["rm", rmFile]);
  const r = await sv(p.root, ["import", "procfile", "src/Procfile"]);
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
    code: 1,
    stdout: "",
    stderr: "services/web.yml exists (and differs from what the import would write)\nservices/worker.yml exists (and differs from what the import would write)\n✘ 2 service files exist: nothing was written\n  hint: rerun with --force to overwrite them, or import into another project with --out DIR\n",
  });
  const json = await sv(p.root, ["import", "procfile", "src/Procfile", "--json"]);
  expect(json.code).toBe(1);
  expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, format: "procfile", exists: [join(p.root, "services/web.yml"), join(p.root, "services/worker.yml")] });
  // Nothing at all: not even the file that did not exist.
  expect(existsSync(rmFile)).toBe(false);
  expect(p.read("services/web.yml")).toBe("command: my own web\n");

  const forced = await sv(p.root, ["import", "procfile", "src/Procfile", "--force"]);
  expect(forced.code).toBe(0);
  expect(forced.stdout).toBe("✓ services/web.yml overwritten\n✓ services/worker.yml overwritten\n✓ services/clock.yml created\n= services/release.yml unchanged\n4 services from src/Procfile\n");
  expect(serviceFiles(p.root)).toEqual(imported);
  expect(readdirSync(join(p.root, "services")).filter((f) => f.includes(".tmp"))).toEqual([]);
});

test("an existing services/NAME.yaml is the target (never a second definition), and inline sv.yml services block", async () => {
  const p = projectWith("procfile");
  p.write("services/web.yaml", "command: sleep 1000\n");
  const r = await sv(p.root, ["import", "procfile", "src/Procfile"]);
  expect([r.code, r.stderr.split("\n")[0]]).toEqual([1, "services/web.yaml exists (and differs from what the import would write)"]);
  expect((await sv(p.root, ["import", "procfile", "src/Procfile", "--force"])).code).toBe(0);
  expect(existsSync(join(p.root, "services/web.yml"))).toBe(false);
  expect(p.read("services/web.yaml")).toContain("busybox httpd");
  expect((await sv(p.root, ["validate"])).code).toBe(0);

  const q = projectWith("procfile");
  q.write("sv.yml", "services:\n  clock: { command: sleep 1 }\n");
  const inline = await sv(q.root, ["import", "procfile", "src/Procfile", "--force"]);
  expect({ code: inline.code, stderr: inline.stderr }).toEqual({ code: 2, stderr: `✘ clock is already defined in ${q.root}/sv.yml (services:)\n  hint: remove it there first, or import into another project with --out\n` });
  expect(listed(q.root)).toEqual([]);
});

test("--out: a fresh directory becomes a valid project; a services/ dir names its parent as the root", async () => {
  const p = projectWith("process-compose");
  const r = await sv(p.root, ["import", "process-compose", "src/process-compose.yaml", "--out", "fresh/app"]);
  expect(r.code).toBe(0);
  expect(r.stdout.split("\n")[0]).toBe("✓ fresh/app/services/seed.yml created");
  const root = join(p.root, "fresh/app");
  // Paths are relative to the new root: the processes still run in the file's directory.
  expect(Bun.YAML.parse(serviceFiles(root).web!)).toMatchObject({ cwd: "../../src" });
  expect(serviceFiles(root).web!.split("\n")[0]).toBe("# Imported by `sv import process-compose` from ../../src/process-compose.yaml (processes.web, line 15).");
  expect((await sv(p.root, ["--root", root, "validate"])).code).toBe(0);

  const q = projectWith("procfile");
  expect((await sv(q.root, ["import", "procfile", "src/Procfile", "--out", "other/services"])).code).toBe(0);
  expect(listed(join(q.root, "other"))).toEqual(["clock.yml", "release.yml", "web.yml", "worker.yml"]);
  expect(Bun.YAML.parse(serviceFiles(join(q.root, "other")).web!)).toMatchObject({ cwd: "../src", env_file: "../src/.env" });
  expect((await sv(join(q.root, "other"), ["validate"])).code).toBe(0);
});

test("--json: the written files and every unmapped key with its line", async () => {
  const p = projectWith("process-compose");
  const r = await sv(p.root, ["import", "process-compose", "src/process-compose.yaml", "--json"]);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.ok).toBe(true);
  expect(out.format).toBe("process-compose");
  expect(out.source).toBe("src/process-compose.yaml");
  expect(out.root).toBe(p.root);
  expect(out.services.map((s: { name: string; state: string }) => `${s.name}:${s.state}`)).toEqual(["seed:created", "web:created", "worker:created", "docs:created", "legacy:created"]);
  expect(out.services[0].file).toBe(join(p.root, "services/seed.yml"));
  expect(out.unmapped[2]).toEqual({ file: "src/process-compose.yaml", line: 57, key: "processes.worker.shutdown.command", why: "sv runs it as a pre_stop hook, then sends the stop signal (process-compose sent no signal)", service: "worker" });
  expect(out.unmapped).toHaveLength(6);
});

test("--quiet prints nothing on success; a project found above the working directory is the default target", async () => {
  const p = projectWith("procfile");
  mkdirSync(join(p.root, "src/deep"));
  const r = await sv(join(p.root, "src/deep"), ["import", "procfile", "../Procfile", "-q"]);
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
  expect(listed(p.root)).toEqual(["clock.yml", "release.yml", "web.yml", "worker.yml"]);
});
