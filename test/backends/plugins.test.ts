// Plugins through the compiled sv: a package plugin found from the project root, and every bad plugin as
// one line and a hint, exit 2 (and, for the commands that work from the store alone, a warning instead).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUILT_IN_KINDS, createBackends } from "../../src/backends/registry.ts";
import { loadProject } from "../../src/config/load.ts";
import { projectPaths } from "../../src/paths.ts";
import { REPO, sv, tempProject, unitStatus } from "../helpers/project.ts";

const EXAMPLE = join(REPO, "plugins/example/index.ts");

/** A backend with every method, of kind `kind`, as the source text of an object literal. */
const backendText = (kind: string, without: string[] = []) => {
  const methods = ["runs", "start", "inspect", "stop", "kill", "reap", "exec", "address"].filter((m) => !without.includes(m));
  return `{ kind: ${JSON.stringify(kind)}, ${methods.map((m) => `${m}() {}`).join(", ")}, logs: { tail() {}, exists() {}, file() {}, rotate() {} } }`;
};

/** A project whose sv.yml lists `plugins`, with `files` (plugin modules) and one service. */
function project(plugins: string[], files: Record<string, string> = {}) {
  return tempProject({ "sv.yml": `plugins: ${JSON.stringify(plugins)}\n`, "services/web.yml": "command: exec sleep 1000\n", ...files });
}

/** `sv up` fails with exactly this message and hint, exit 2, and starts nothing. */
async function expectUsage(p: { root: string }, message: string, hint: string) {
  const r = await sv(p.root, ["up"]);
  expect(r.stderr).toBe(`✘ ${message}\n  hint: ${hint}\n`);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(2);
}

describe("a plugin that is a package", () => {
  test("is resolved from the project root's node_modules, and its backend runs the services that pick it", async () => {
    const p = project(["sv-plugin-nice"], {
      "node_modules/sv-plugin-nice/package.json": JSON.stringify({ name: "sv-plugin-nice", type: "module", main: "index.ts" }),
      "node_modules/sv-plugin-nice/index.ts": `export { default } from ${JSON.stringify(EXAMPLE)};\n`,
      "services/web.yml": "command: exec sleep 1000\nenv: { SV_BACKEND: nice }\n",
    });
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^✓ web running \(pid \d+\) in \d+ ms$/m);
    expect(JSON.parse(p.read(".sv/state/services.yml")).services.web.handle.kind).toBe("nice");
    expect((await unitStatus(p.root, "web")).state).toBe("running");
    expect((await sv(p.root, ["down"])).stdout).toBe("✓ web stopped\n");
  });
});

describe("a bad plugin is one line and a hint, exit 2", () => {
  test("a file that does not exist: the entry, and the file it looked for", async () => {
    const p = project(["./plugins/nope.ts"]);
    await expectUsage(p, `plugin ./plugins/nope.ts not found: no file ${p.root}/plugins/nope.ts`, "plugins: in sv.yml lists files relative to the project root, or installed packages");
  });

  test("a directory is not a module file", async () => {
    const p = project(["./plugins"], { "plugins/x.ts": "" });
    await expectUsage(p, `plugin ./plugins is not a file: ${p.root}/plugins`, "name the module's file, e.g. ./plugins/my-backend/index.ts");
  });

  test("a package that is not installed: the name, and where it looked", async () => {
    const p = project(["sv-no-such-plugin"]);
    await expectUsage(p, `plugin sv-no-such-plugin not found: no package "sv-no-such-plugin" in node_modules of ${p.root} or above`, "install it in the project (bun add sv-no-such-plugin), or give a path: ./plugins/sv-no-such-plugin.ts");
  });

  test("a file's path without ./ is taken for a package, and the hint says so", async () => {
    const p = project(["plugins/mine.ts"], { "plugins/mine.ts": "" });
    await expectUsage(p, `plugin plugins/mine.ts not found: no package "plugins/mine.ts" in node_modules of ${p.root} or above`, "a file's path starts with ./ or /: ./plugins/mine.ts");
  });

  test("a module that throws on import: the first line of its message", async () => {
    const p = project(["./plugins/throws.ts"], { "plugins/throws.ts": 'throw new Error("cannot reach the frobnicator\\n    at line two");\n' });
    await expectUsage(p, "plugin ./plugins/throws.ts failed to load: cannot reach the frobnicator", `fix the module ${p.root}/plugins/throws.ts; sv imports it on every run`);
  });

  test("a module with a syntax error: the first error and where it is", async () => {
    const p = project(["./plugins/bad.ts"], { "plugins/bad.ts": "export default {; kind\n" });
    await expectUsage(p, 'plugin ./plugins/bad.ts failed to load: Expected identifier but found ";" (plugins/bad.ts:1:17)', `fix the module ${p.root}/plugins/bad.ts; sv imports it on every run`);
  });

  test("a module whose own import is missing", async () => {
    const p = project(["./plugins/imp.ts"], { "plugins/imp.ts": 'import x from "./gone.ts";\nexport default x;\n' });
    await expectUsage(p, `plugin ./plugins/imp.ts failed to load: Cannot find module './gone.ts' imported from ${p.root}/plugins/imp.ts`, `fix the module ${p.root}/plugins/imp.ts; sv imports it on every run`);
  });

  const SHAPE = 'export default { kind: "my-backend", create: (host) => backend } — see "Plugins" in the README';
  test.each([
    ["no default export", "export const kind = 'x';\n", "plugin ./plugins/p.ts has no default export"],
    ["a default export that is not a plugin", "export default 42;\n", "plugin ./plugins/p.ts: its default export is not a backend plugin ({ kind, create })"],
    ["a bare backend factory", "export default () => ({});\n", "plugin ./plugins/p.ts: its default export is not a backend plugin ({ kind, create })"],
    ["no kind", "export default { create() {} };\n", 'plugin ./plugins/p.ts: its kind must be a word like "my-backend" ([a-z][a-z0-9-]*), got nothing'],
    ["a kind that is not a word", 'export default { kind: "My Backend", create() {} };\n', 'plugin ./plugins/p.ts: its kind must be a word like "my-backend" ([a-z][a-z0-9-]*), got "My Backend"'],
    ["create returning nothing", 'export default { kind: "mine", create() {} };\n', "plugin ./plugins/p.ts: create() returned undefined, not a backend"],
  ])("%s", async (_, text, message) => {
    const p = project(["./plugins/p.ts"], { "plugins/p.ts": text });
    await expectUsage(p, message, SHAPE);
  });

  test.each([
    ["process", "sv's own process backend"],
    ["container", "sv's own container backend"],
    ["fake", "sv's own fake backend"],
  ])("a kind that clashes with a built-in: %s", async (kind, owner) => {
    const p = project(["./plugins/p.ts"], { "plugins/p.ts": `export default { kind: "${kind}", create: () => (${backendText(kind)}) };\n` });
    await expectUsage(p, `plugin ./plugins/p.ts: the backend kind "${kind}" is already taken by ${owner}`, "give the plugin's backend a kind of its own");
  });

  test("a kind that clashes with another plugin's", async () => {
    const p = project(["./plugins/a.ts", "./plugins/b.ts"], {
      "plugins/a.ts": `export default { kind: "mine", create: () => (${backendText("mine")}) };\n`,
      "plugins/b.ts": `export default { kind: "mine", create: () => (${backendText("mine")}) };\n`,
    });
    await expectUsage(p, 'plugin ./plugins/b.ts: the backend kind "mine" is already taken by plugin ./plugins/a.ts', "give the plugin's backend a kind of its own");
  });

  test("a backend missing required methods names each", async () => {
    const text = `const b = ${backendText("mine", ["stop", "kill"])}; delete b.logs.rotate; b.exitWatcher = 1;\nexport default { kind: "mine", create: () => b };\n`;
    const p = project(["./plugins/p.ts"], { "plugins/p.ts": text });
    await expectUsage(p, 'plugin ./plugins/p.ts: its "mine" backend lacks stop, kill, logs.rotate, exitWatcher (not a function)', "a backend implements every method of the Backend interface (src/backends/plugin-api.ts)");
  });

  test("a backend without logs", async () => {
    const p = project(["./plugins/p.ts"], { "plugins/p.ts": `const b = ${backendText("mine")}; delete b.logs;\nexport default { kind: "mine", create: () => b };\n` });
    await expectUsage(p, 'plugin ./plugins/p.ts: its "mine" backend lacks logs', "a backend implements every method of the Backend interface (src/backends/plugin-api.ts)");
  });

  test("a backend whose kind is not the one its plugin declares", async () => {
    const p = project(["./plugins/p.ts"], { "plugins/p.ts": `export default { kind: "mine", create: () => (${backendText("yours")}) };\n` });
    await expectUsage(p, 'plugin ./plugins/p.ts: its backend\'s kind "yours" is not the kind it declares ("mine")', "the handles it records are tagged with the backend's kind: make the two the same");
  });

  test("a create that throws: the first line of its message", async () => {
    const p = project(["./plugins/p.ts"], { "plugins/p.ts": 'export default { kind: "mine", create() { throw new TypeError("host.frob is not a function\\nmore"); } };\n' });
    await expectUsage(p, "plugin ./plugins/p.ts failed to create its backend: host.frob is not a function", "its create(host) threw: fix the plugin");
  });

  test("status, which works from the store alone, says so in one line and goes on (exit 0)", async () => {
    const p = project(["./plugins/nope.ts"]);
    const r = await sv(p.root, ["status"]);
    expect(r.stderr).toBe(`⚠ the configuration cannot be loaded (plugin ./plugins/nope.ts not found: no file ${p.root}/plugins/nope.ts); showing what the store recorded\n`);
    expect(r.code).toBe(0);
  });
});

describe("the registry", () => {
  test("BUILT_IN_KINDS names every built-in backend's kind (so a plugin cannot take one)", async () => {
    const p = tempProject();
    const project = await loadProject(p.root);
    for (const b of createBackends(projectPaths(p.root), project).all) expect(BUILT_IN_KINDS).toContain(b.kind);
  });

  test("a handle of a kind no backend has gets a stand-in whose every look fails in one line", async () => {
    const p = tempProject();
    const backends = createBackends(projectPaths(p.root), await loadProject(p.root));
    const stand = backends.of({ kind: "vm", pid: 5 });
    expect(stand.kind).toBe("vm");
    expect(backends.all).not.toContain(stand);
    await expect(stand.inspect("api", { kind: "vm" })).rejects.toThrow(`api: no "vm" backend in this sv (is the plugin that started it still in sv.yml's plugins?)`);
    await expect(stand.stop("api", { kind: "vm" }, { signal: "SIGTERM", timeoutMs: 1 })).rejects.toThrow(/^no "vm" backend in this sv/);
  });
});
