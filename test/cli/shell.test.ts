// sv in scripts and pipelines (issue 8): global flags before the command, nothing read past `--`, no
// escape codes unless on a terminal (or FORCE_COLOR), the shell's exit codes for signals and for a
// command sv exec cannot run.
import { describe, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { SV, type TempProject, sv, tempProject, waitFor } from "../helpers/project.ts";


function project(): TempProject {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: ["sh", "-c", "echo started; exec sleep 1000"] }));
  return p;
}

const ESC = "\x1b[";

describe("global flags before the command", () => {
  test("--root DIR, --root=DIR and --json before the name mean what they mean after it", async () => {
    const p = project();
    const elsewhere = tempProject();
    for (const args of [["--root", p.root, "status", "--json"], [`--root=${p.root}`, "--json", "status"], ["--json", "status", "--root", p.root]]) {
      const r = await sv(elsewhere.root, args);
      expect([args, r.code, r.stderr]).toEqual([args, 0, ""]);
      expect(JSON.parse(r.stdout).services.map((s: { name: string }) => s.name)).toEqual(["web"]);
    }
    expect((await sv(elsewhere.root, ["--quiet", "--root", p.root, "--no-wait-lock", "up"])).stdout).toBe("");
  });

  test("a flag that is not global, before the command, is a usage error; so is a bad --log-format", async () => {
    const p = project();
    expect(await sv(p.root, ["--follow", "logs"])).toEqual({
      code: 2,
      stdout: "",
      stderr: "✘ unknown option --follow before the command\n  hint: only --root, --json, --quiet, --log-format and --no-wait-lock may come before it; run `sv --help`\n",
    });
    expect(await sv(p.root, ["--log-format", "yaml", "status"])).toEqual({ code: 2, stdout: "", stderr: '✘ --log-format must be text or json, not "yaml"\n  hint: e.g. --log-format json\n' });
  });

  test("nothing after -- is read by sv: sv exec's command keeps its -q and --json", async () => {
    const p = project();
    const r = await sv(p.root, ["exec", "--requires", "web", "--", "sh", "-c", 'echo "out $1 $2"; exit 4', "sh", "-q", "--json"]);
    expect(r.code).toBe(4);
    // Not quiet, not JSON: sv's own progress line is there, as text.
    expect(r.stderr).toMatch(/^✓ web running \(pid \d+\) in \d+ ms\n$/);
    expect(r.stdout).toBe("out -q --json\n");
  });
});

describe("escape codes only for a terminal", () => {
  for (const args of [["up", "--help"], ["--help"], ["status"]]) {
    test(`sv ${args.join(" ")} into a pipe has none; FORCE_COLOR=1 brings them back to help`, async () => {
      const p = project();
      const plain = Bun.spawnSync([SV, ...args], { cwd: p.root, env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: "xterm-256color" } });
      expect(plain.stdout.toString()).not.toContain(ESC);
      expect(plain.stdout.toString().length).toBeGreaterThan(20);
      if (args.includes("--help") && args.length > 1) {
        // citty (which renders help) also turns colour off whenever CI is set, whatever FORCE_COLOR says.
        const forced = Bun.spawnSync([SV, ...args], { cwd: p.root, env: { ...process.env, NO_COLOR: undefined, CI: undefined, FORCE_COLOR: "1" } });
        expect(forced.stdout.toString()).toContain(ESC);
      }
    });
  }
});

describe("the shell's exit codes", () => {
  test("sv exec: 127 for a command not found, 126 for one that cannot run; a signal's 128+N passed on", async () => {
    const p = project();
    p.write("not-executable.sh", "#!/bin/sh\necho hi\n");
    chmodSync(join(p.root, "not-executable.sh"), 0o644);
    expect(await sv(p.root, ["exec", "--", "no-such-command-4242"])).toEqual({ code: 127, stdout: "", stderr: "✘ cannot run no-such-command-4242: command not found\n  hint: check the command after --\n" });
    expect(await sv(p.root, ["exec", "--", "./not-executable.sh"])).toEqual({ code: 126, stdout: "", stderr: "✘ cannot run ./not-executable.sh: permission denied\n  hint: check the command after --\n" });
    expect((await sv(p.root, ["exec", "--", "sh", "-c", "kill -TERM $$"])).code).toBe(143);
  });

  for (const args of [["watch"], ["logs", "-f"], ["events", "-f"]]) {
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      test(`sv ${args.join(" ")} ended by ${signal} exits ${code}, silently`, async () => {
        const p = project();
        expect((await sv(p.root, ["up"])).code).toBe(0);
        const proc = Bun.spawn([SV, ...args], { cwd: p.root, env: { ...process.env, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        const reading = (async () => {
          for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
        })();
        // Each prints something once it is following (its handlers are in): watch its banner, logs and events what is there.
        await waitFor(() => out.length > 0, `sv ${args.join(" ")} to start`);
        proc.kill(signal);
        expect(await proc.exited).toBe(code);
        await reading;
        expect(await new Response(proc.stderr).text()).toBe("");
      });
    }
  }
});
