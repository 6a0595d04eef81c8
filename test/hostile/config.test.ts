// Configs that would hang sv or eat its memory (issue 7): each is one located line and exit 2, well under a second,
// for `sv validate` and `sv up` alike, and nothing is started.
import { describe, expect, test } from "bun:test";
import { existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { type TempProject, sv, tempProject } from "../helpers/project.ts";

const FAILED = (n: number) => (n === 1 ? "✘ the configuration has a problem\n" : `✘ ${n} problems in the configuration\n`);
/** Well under a second: a process start plus a load, with room for a loaded CI machine. */
const BOUND_MS = 1000;

/** `sv validate` and `sv up` in `p` both end at once in exit 2 with exactly `lines`, and up starts nothing. */
async function rejects(p: TempProject, lines: string[]): Promise<void> {
  for (const command of ["validate", "up"]) {
    const started = performance.now();
    const r = await sv(p.root, [command], { timeoutMs: 10_000 });
    const ms = performance.now() - started;
    expect([command, r.code, r.stderr]).toEqual([command, 2, `${lines.join("\n")}\n${FAILED(lines.length)}`]);
    expect(ms).toBeLessThan(BOUND_MS);
  }
  expect(existsSync(join(p.root, ".sv/state/services.yml"))).toBe(false);
}

function mkfifo(path: string): void {
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
}

describe("files that are not small regular files are not read", () => {
  test("a FIFO as a service file", async () => {
    const p = tempProject();
    mkfifo(join(p.root, "services/x.yml"));
    await rejects(p, ["services/x.yml: not a regular file (a FIFO)"]);
  });

  test("a FIFO behind a symlink, and as sv.yml", async () => {
    const p = tempProject({ "services/ok.yml": "command: sleep 1\n" });
    mkfifo(join(p.root, "pipe"));
    symlinkSync(join(p.root, "pipe"), join(p.root, "services/x.yml"));
    await rejects(p, ["services/x.yml: not a regular file (a FIFO)"]);
    const q = tempProject({ "services/ok.yml": "command: sleep 1\n" });
    mkfifo(join(q.root, "sv.yml"));
    await rejects(q, ["sv.yml: not a regular file (a FIFO)"]);
  });

  test("a symlink to /dev/zero", async () => {
    const p = tempProject();
    symlinkSync("/dev/zero", join(p.root, "services/zero.yml"));
    await rejects(p, ["services/zero.yml: not a regular file (a character device)"]);
  });

  test("a file over 1 MiB", async () => {
    const p = tempProject({ "services/big.yml": `command: sleep 1\ndescription: "${"a".repeat(5 * 1024 * 1024)}"\n` });
    await rejects(p, ["services/big.yml: 5.0 MiB is over the 1 MiB limit for a config file"]);
    const q = tempProject({ "services/big.yml": `command: sleep 1\n#${"a".repeat(1024 * 1024)}\n` });
    await rejects(q, [`services/big.yml: ${1024 * 1024 + 19} bytes is over the 1 MiB limit for a config file`]);
  });

  test("a file of just under 1 MiB is read", async () => {
    const p = tempProject({ "services/a.yml": `command: sleep 1\n#${"a".repeat(1024 * 1024 - 20)}\n` });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  });
});

describe("cyclic aliases", () => {
  test("in a list", async () => {
    const p = tempProject({ "services/a.yml": "command: sleep 1\ndescription: &r [*r]\n" });
    await rejects(p, ["services/a.yml:2:18: description.0: is an alias of a node that contains it (a cyclic alias)"]);
  });

  test("in a mapping, deeper down", async () => {
    const p = tempProject({ "services/a.yml": "command: sleep 1\nenv: &e\n  A: 1\n  B: { c: [1, *e] }\n" });
    await rejects(p, ["services/a.yml:4:15: env.B.c.1: is an alias of a node that contains it (a cyclic alias)"]);
  });

  test("a shared (not cyclic) alias is fine", async () => {
    const p = tempProject({ "services/a.yml": "command: sleep 1\nx-base: &b { A: '1' }\nenv: *b\nx-cmd: &c [sleep, 1]\nhooks: { pre_start: *c, post_stop: *c }\n" });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  });
});

describe("${...} nested deep in defaults", () => {
  const nested = (n: number) => `${"${A:-".repeat(n)}x${"}".repeat(n)}`;

  for (const n of [8000, 100_000]) {
    test(`${n} deep`, async () => {
      const p = tempProject({ "services/a.yml": `command: sleep 1\ndescription: "${nested(n)}"\n` });
      await rejects(p, ['services/a.yml:2:14: description: "${" nested more than 32 deep']);
    });
  }

  test("32 deep is expanded", async () => {
    const p = tempProject({ "services/a.yml": `command: sleep 1\ndescription: "${nested(32)}"\n` });
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  });
});

describe("instances are bounded", () => {
  for (const n of ["1000000000", "100000", "10001"]) {
    test(n, async () => {
      const p = tempProject({ "services/a.yml": `command: sleep 1\ninstances: ${n}\n` });
      await rejects(p, ["services/a.yml:2:12: instances: must be at most 10000 (each instance is a process)"]);
    });
  }
});

describe("durations are at most a year", () => {
  const KEYS = ["start_delay", "notify_delay", "start_timeout", "restart_delay", "restart_max_delay", "stop_timeout"];
  const VALUES: [string, string][] = [["1e308", "1e+308"], [".inf", ".inf"], ["99999999999999999999h", "99999999999999999999h"], ["8761h", "8761h"]];

  for (const [value, shown] of VALUES) {
    test(value, async () => {
      const lines = KEYS.map((k) => `${k}: ${value}`);
      const health = `health_check: { type: process, interval: ${value}, timeout: ${value}, start_period: ${value} }`;
      const p = tempProject({ "sv.yml": `default_timeout: ${value}\n`, "services/a.yml": `command: sleep 1\n${lines.join("\n")}\n${health}\n` });
      const col = (k: string) => k.length + 3;
      const at = (k: string, from: number) => health.indexOf(`${k}: `, from) + k.length + 3;
      await rejects(p, [
        `sv.yml:1:18: default_timeout: must be at most 1 year (got ${shown})`,
        ...KEYS.map((k, i) => `services/a.yml:${i + 2}:${col(k)}: ${k}: must be at most 1 year (got ${shown})`),
        ...["interval", "timeout", "start_period"].map((k) => `services/a.yml:8:${at(k, 30)}: health_check.${k}: must be at most 1 year (got ${shown})`),
      ]);
    });
  }

  test("a year is fine; .nan is not a duration", async () => {
    const p = tempProject({ "services/a.yml": "command: sleep 1\nstop_timeout: 8760h\nstart_delay: .nan\n" });
    await rejects(p, ['services/a.yml:3:14: start_delay: must be a duration like "250ms", "2s", "1m", "1h" or a number of seconds']);
  });
});

describe("huge keys and values are cut short in messages", () => {
  const long = "k".repeat(1024 * 1024 - 100);
  const cut = `${"k".repeat(79)}…`;

  test("a 1 MiB unknown key", async () => {
    const p = tempProject({ "services/a.yml": `command: sleep 1\n${long}: 1\n` });
    await rejects(p, [`services/a.yml:2:1: ${cut}: unknown key "${cut}"`]);
  });

  test("a long unknown key still gets its did-you-mean", async () => {
    const p = tempProject({ "services/a.yml": "command: sleep 1\nrestart_max_delai: 1s\n" });
    await rejects(p, ['services/a.yml:2:1: restart_max_delai: unknown key "restart_max_delai" (did you mean "restart_max_delay"?)']);
  });

  test("a long value, variable and service name", async () => {
    const p = tempProject({
      "services/a.yml": `command: sleep 1\ntype: ${long.slice(0, 400_000)}\ndescription: \${${long.slice(0, 400_000)}}\n`,
      "sv.yml": `services:\n  ${long}: { command: sleep 1 }\n`,
    });
    await rejects(p, [
      `sv.yml:2:3: services.${cut}: "${cut}" is not a valid service name (names match [a-z0-9][a-z0-9_-]{0,62}); rename the key`,
      `services/a.yml:2:7: type: must be one of simple, oneshot, on-demand, multi-shot (got "${cut}")`,
      `services/a.yml:3:14: description: \${${cut}} is not set`,
    ]);
  });
});

describe("other ways in", () => {
  test("an include: that is a FIFO", async () => {
    const p = tempProject({ "sv.yml": "include: [pipe.yml]\n" });
    mkfifo(join(p.root, "pipe.yml"));
    await rejects(p, ["sv.yml:1:11: include.0: pipe.yml is not a regular file (a FIFO)"]);
  });

  test("nesting too deep for the parser", async () => {
    const p = tempProject({ "services/a.yml": `command: sleep 1\ndescription: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n` });
    await rejects(p, ["services/a.yml: nested too deep to parse"]);
  });

  test("an included URL whose body is over 1 MiB, declared or streamed", async () => {
    const body = `command: sleep 1\n#${"a".repeat(2 * 1024 * 1024)}\n`;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => {
        if (new URL(req.url).pathname === "/declared.yml") return new Response(body);
        const stream = new ReadableStream({
          pull(controller) {
            controller.enqueue(new TextEncoder().encode("#".repeat(64 * 1024) + "\n")); // without end
          },
        });
        return new Response(stream);
      },
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const p = tempProject({ "sv.yml": `include: [${base}/declared.yml, ${base}/endless.yml]\n` });
      await rejects(p, [
        `sv.yml:1:11: include.0: cannot fetch ${base}/declared.yml: ${(body.length / 1024 / 1024).toFixed(1)} MiB is over the 1 MiB limit for a config file`,
        `sv.yml:1:${13 + base.length + 13}: include.1: cannot fetch ${base}/endless.yml: the body is over the 1 MiB limit for a config file`,
      ]);
    } finally {
      server.stop(true);
    }
  });
});
