// sv completion: the embedded scripts, and real completion in bash, zsh and fish against the compiled sv.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArgsDef } from "citty";
import { aliases, commands } from "../src/commands/index.ts";
import { FIXTURES, REPO, SV, sv, tempProject } from "./helpers/project.ts";

const has = (shell: string) => Bun.spawnSync(["sh", "-c", `command -v ${shell}`]).exitCode === 0;
const COMMANDS = [...Object.keys(commands), ...Object.keys(aliases)].sort();

// `sv` on PATH is the compiled binary, as for a user; the scripts are the ones it prints.
let bin: string;
let remoteHits = 0;
let remote: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), "sv-completion-"));
  symlinkSync(SV, join(bin, "sv"));
  mkdirSync(join(bin, "fpath"));
  for (const shell of ["bash", "zsh", "fish"]) {
    writeFileSync(join(bin, `script.${shell}`), Bun.spawnSync([SV, "completion", shell]).stdout);
  }
  writeFileSync(join(bin, "fpath/_sv"), readFileSync(join(bin, "script.zsh")));
  remote = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (remoteHits++, new Response("command: sleep 60\n")) });
});
afterAll(() => {
  remote.stop(true);
  rmSync(bin, { recursive: true, force: true });
});
const env = () => ({ ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1" });

/** A project defining services every way sv knows: files, `name:`, sv.yml's map, a local and a remote include. */
function project() {
  return tempProject({
    "services/api.yml": "command: sleep 60\n",
    "services/db.yml": "command: sleep 60\n",
    "services/w.yml": "name: worker\ncommand: sleep 60\n",
    "sv.yml": `services:\n  cache: { command: sleep 60 }\ninclude:\n  - more/*.yml\n  - http://127.0.0.1:${remote.port}/remote.yml\n`,
    "more/queue.yml": "command: sleep 60\n",
  });
}
const NAMES = ["api", "cache", "db", "queue", "worker"];

/** What bash offers: COMP_WORDS as readline splits the line (`=` is a word break), COMP_CWORD the last word. */
function bash(line: string, cwd: string): string[] {
  const words = line.split(" ").flatMap((w) => (w.includes("=") ? w.split(/(=)/).filter((p, i) => p !== "" || i === 0) : [w]));
  const script = `source ${bin}/script.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sv; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", script, "bash", ...words], { cwd, env: env() });
  expect(r.stderr.toString()).toBe("");
  return r.stdout.toString().split("\n").filter(Boolean);
}

/** What zsh offers (match, description dropped), from a real interactive zsh on a pty. */
function zsh(line: string, cwd: string): string[] {
  const r = Bun.spawnSync(["zsh", "-f", join(FIXTURES, "zsh-complete.zsh"), join(bin, "fpath"), line], { cwd, env: env(), timeout: 20_000 });
  return r.stdout.toString().split("\n").filter(Boolean).map((l) => l.replace(/ -- .*$/, ""));
}

/** What fish offers (match, description dropped). */
function fish(line: string, cwd: string): string[] {
  const r = Bun.spawnSync(["fish", "--no-config", "-c", `source ${bin}/script.fish; complete -C ${JSON.stringify(line)}`], { cwd, env: env() });
  expect(r.stderr.toString()).toBe("");
  return r.stdout.toString().split("\n").filter(Boolean).map((l) => l.split("\t")[0]!);
}

/** Every flag a command accepts, from its citty definition (the source of truth the scripts must follow). */
async function flagsOf(name: string): Promise<string[]> {
  const cmd = await commands[name]!();
  const defs = (typeof cmd.args === "function" ? await cmd.args() : (cmd.args ?? {})) as ArgsDef;
  const flags = ["--help", "-h"];
  for (const [key, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    flags.push(`--${key}`);
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat()) flags.push(a.length === 1 ? `-${a}` : `--${a}`);
    if (def.type === "boolean" && ("negativeDescription" in def || def.default === true)) flags.push(`--no-${key}`);
  }
  return flags;
}

const sorted = (xs: string[]) => [...xs].sort();

test("sv completion prints the scripts in completions/, embedded in the binary", async () => {
  for (const [shell, file] of [["bash", "sv.bash"], ["zsh", "_sv"], ["fish", "sv.fish"]]) {
    const r = await sv(tmpdir(), ["completion", shell!]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(REPO, "completions", file!), "utf8"));
  }
});

test("an unknown or missing shell is a usage error", async () => {
  const r = await sv(tmpdir(), ["completion", "bsh"]);
  expect(r).toEqual({ code: 2, stdout: "", stderr: '✘ no completion for shell "bsh": sv knows bash, zsh and fish\n  hint: did you mean `sv completion bash`?\n' });
  const none = await sv(tmpdir(), ["completion"]);
  expect(none.code).toBe(2);
  expect(none.stderr).toStartWith("✘ sv completion needs a shell: bash, zsh or fish\n");
});

test("the scripts parse in their shells", () => {
  expect(Bun.spawnSync(["bash", "-n", join(REPO, "completions/sv.bash")]).exitCode).toBe(0);
  if (has("zsh")) expect(Bun.spawnSync(["zsh", "-n", join(REPO, "completions/_sv")]).exitCode).toBe(0);
  if (has("fish")) expect(Bun.spawnSync(["fish", "-n", join(REPO, "completions/sv.fish")]).exitCode).toBe(0);
});

test("the names fast path matches sv list, except remote includes, which it never fetches", async () => {
  const p = project();
  const list = await sv(p.root, ["list", "--json"]);
  expect(list.code).toBe(0);
  expect(sorted(JSON.parse(list.stdout).services.map((s: { name: string }) => s.name))).toEqual(sorted([...NAMES, "remote"]));
  const hits = remoteHits;
  const names = await sv(p.root, ["completion", "__names"]);
  expect(names).toEqual({ code: 0, stdout: `${["cache", "api", "db", "worker", "queue"].join("\n")}\n`, stderr: "" });
  expect(remoteHits).toBe(hits);

  expect((await sv(tmpdir(), ["completion", "__names"], { env: { SV_ROOT: p.root } })).stdout.split("\n").filter(Boolean)).toHaveLength(5);
  expect(await sv("/", ["completion", "__names"])).toEqual({ code: 0, stdout: "", stderr: "" });
  // A half-edited config still completes.
  p.write("services/db.yml", "command: [unclosed\n");
  expect((await sv(p.root, ["completion", "__names"])).stdout).toContain("api\ndb\nworker\n");
});

/** The cases every shell must get right; `complete` is that shell's completer. */
function shellCases(complete: (line: string, cwd: string) => string[]) {
  test("sv l<TAB> offers list and logs; sv <TAB> every command and alias", () => {
    const p = project();
    expect(sorted(complete("sv l", p.root))).toEqual(["list", "logs"]);
    expect(sorted(complete("sv ", p.root))).toEqual(COMMANDS);
  });

  test("sv up <TAB> offers the project's services, without those already typed", () => {
    const p = project();
    expect(sorted(complete("sv up ", p.root))).toEqual(NAMES);
    expect(sorted(complete("sv logs api ", p.root))).toEqual(NAMES.filter((n) => n !== "api"));
    expect(sorted(complete("sv stop c", p.root))).toEqual(["cache"]);
  });

  test("a --root typed on the line picks the project, in either spelling", () => {
    const p = project();
    const q = tempProject({ "services/other.yml": "command: sleep 60\n" });
    expect(complete(`sv status --root ${q.root} `, p.root)).toEqual(["other"]);
    expect(complete(`sv status --root=${q.root} `, p.root)).toEqual(["other"]);
    expect(sorted(complete(`sv ps --root ${p.root} `, tmpdir()))).toEqual(NAMES);
  });

  test("option values: --requires lists services, --log-format its formats, completion its shells", () => {
    const p = project();
    expect(sorted(complete("sv exec --requires api,", p.root).map((c) => c.replace(/^--requires=/, "")))).toEqual(NAMES.filter((n) => n !== "api").map((n) => `api,${n}`));
    expect(sorted(complete("sv status --log-format ", p.root))).toEqual(["json", "text"]);
    expect(sorted(complete("sv completion ", p.root))).toEqual(["bash", "fish", "zsh"]);
  });

  test("every flag of every command is offered (checked against the citty definitions)", async () => {
    const p = project();
    for (const name of Object.keys(commands)) {
      const offered = new Set(complete(`sv ${name} -`, p.root));
      const missing = (await flagsOf(name)).filter((f) => !offered.has(f));
      expect({ command: name, missing }).toEqual({ command: name, missing: [] });
    }
  }, 60_000);
}

describe("bash (without bash-completion)", () => shellCases(bash));
// In CI the shells are installed by .ci/run: a missing one fails there instead of skipping.
describe.skipIf(!has("zsh") && !process.env.CI)("zsh", () => shellCases(zsh));
describe.skipIf(!has("fish") && !process.env.CI)("fish", () => shellCases(fish));
