// The example plugin: the whole backend contract (test/backends/contract.ts, the plugin author's test kit),
// its own promise (services run at the niceness they ask for), and sv up / status / down through it in the
// compiled sv, which imports the plugin's .ts from the project at run time.
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { StartRequest } from "../../src/backends/backend.ts";
import { createLocalBackend } from "../../src/backends/local/index.ts";
import type { Project } from "../../src/config/schema.ts";
import { SvError } from "../../src/errors.ts";
import { projectPaths } from "../../src/paths.ts";
import { backendContract } from "../../test/backends/contract.ts";
import { processRig } from "../../test/backends/rig-kit.ts";
import { testService } from "../../test/backends/service.ts";
import { fixtureCommand, freePort, isAlive, isListening, sv, tempProject, unitStatus, waitFor } from "../../test/helpers/project.ts";
import plugin from "./index.ts";

const SECOND_SV = join(import.meta.dir, "second-sv.ts");
const NICE = { SV_BACKEND: "nice" };

/** The backend as sv makes it: the plugin's create, given the host sv gives every plugin. */
function niceBackend(root: string) {
  const paths = projectPaths(root);
  return plugin.create({ paths, project: { root, plugins: [] } as unknown as Project, local: createLocalBackend(paths), SvError });
}

backendContract("nice (the example plugin)", () => processRig(niceBackend, SECOND_SV, { env: NICE }));

/** The niceness of a process (/proc/PID/stat field 19). */
function nicenessOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

describe("the nice plugin", () => {
  const request = (root: string, env: Record<string, string>): StartRequest => ({
    unit: "api",
    svc: testService("api", "exec sleep 1000", root, { env }),
    instance: 0,
    env: {},
    inherited: process.env,
    spec: { hash: "0", type: "simple", backend: "nice", stop_signal: "SIGTERM", stop_timeout_ms: 1000, port: null },
  });

  test("runs the services that ask for it by env SV_BACKEND: nice, and no other", () => {
    const backend = niceBackend("/");
    expect(plugin.kind).toBe("nice");
    expect(backend.kind).toBe("nice");
    expect(backend.runs(testService("a", "true", "/", { env: NICE }))).toBe(true);
    expect(backend.runs(testService("b", "true", "/"))).toBe(false);
    expect(backend.runs(testService("c", "true", "/", { env: { SV_BACKEND: "other" } }))).toBe(false);
  });

  test.each([
    [{}, 10],
    [{ SV_NICENESS: "5" }, 5],
  ])("the service's own process runs at the niceness it asks for (%o -> %i), and handles are tagged nice", async (extra, niceness) => {
    const p = tempProject();
    const backend = niceBackend(p.root);
    const s = await backend.start(request(p.root, { ...NICE, ...extra }));
    expect(s.handle.kind).toBe("nice");
    await s.release();
    try {
      // Once the relay has run it, nice has exec'd the command: the service's own pid, at its niceness.
      const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const pid = await waitFor(async () => {
        const seen = (await backend.inspect("api", s.handle)).pid;
        return seen !== null && cmdline(seen) === "sleep\u00001000\u0000" ? seen : null;
      }, "api runs sleep");
      expect(nicenessOf(pid)).toBe(niceness);
    } finally {
      await backend.kill("api", s.handle);
    }
  });

  test("a niceness out of range fails the start, naming the service", async () => {
    const p = tempProject();
    await expect(niceBackend(p.root).start(request(p.root, { ...NICE, SV_NICENESS: "42" }))).rejects.toThrow("api: SV_NICENESS must be an integer from 1 to 19, got 42");
  });
});

describe("the compiled sv with the example plugin", () => {
  test("sv up, sv status and sv down run a service through the plugin, next to a local one", async () => {
    const webPort = freePort();
    const plainPort = freePort();
    // The plugin's file alone, away from sv's source: its `import type` lines are all it has of sv.
    const p = tempProject({
      "sv.yml": "plugins: [./plugins/example/index.ts]\n",
      "services/web.yml": `command: ${fixtureCommand("tcp-server.ts", String(webPort))}\nport: ${webPort}\nenv: { SV_BACKEND: nice }\n`,
      "services/plain.yml": `command: ${fixtureCommand("tcp-server.ts", String(plainPort))}\nport: ${plainPort}\n`,
    });
    mkdirSync(join(p.root, "plugins/example"), { recursive: true });
    copyFileSync(join(import.meta.dir, "index.ts"), join(p.root, "plugins/example/index.ts"));

    const up = await sv(p.root, ["up"]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^✓ web running \(pid \d+\) in \d+ ms$/m);
    expect(up.stdout).toMatch(/^✓ plain running \(pid \d+\) in \d+ ms$/m);

    const store = JSON.parse(p.read(".sv/state/services.yml")).services;
    expect(store.web.handle.kind).toBe("nice");
    expect(store.web.spec.backend).toBe("nice");
    expect(store.plain.handle.kind).toBe("process");

    const web = await unitStatus(p.root, "web");
    expect(web).toMatchObject({ state: "running", health: "healthy" });
    expect(nicenessOf(web.pid!)).toBe(10);
    expect(nicenessOf((await unitStatus(p.root, "plain")).pid!)).toBe(0);
    const table = await sv(p.root, ["status"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^web +running +healthy +${web.pid} `, "m"));
    expect(table.stdout).toContain("overall: healthy (2 of 2 wanted up ready)");

    const down = await sv(p.root, ["down"]);
    expect(down.code).toBe(0);
    expect(down.stdout.split("\n").filter(Boolean).sort()).toEqual(["✓ plain stopped", "✓ web stopped"]);
    expect(isAlive(web.pid!)).toBe(false);
    expect(await isListening(webPort)).toBe(false);
  });

  test("with the plugin gone from sv.yml, status warns and down fails the unit and keeps it, until the plugin is back", async () => {
    const p = tempProject({
      "sv.yml": "plugins: [./plugins/example/index.ts]\n",
      "services/web.yml": "command: exec sleep 1000\nenv: { SV_BACKEND: nice }\n",
    });
    mkdirSync(join(p.root, "plugins/example"), { recursive: true });
    copyFileSync(join(import.meta.dir, "index.ts"), join(p.root, "plugins/example/index.ts"));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const pid = (await unitStatus(p.root, "web")).pid!;
    const why = `no "nice" backend in this sv (is the plugin that started it still in sv.yml's plugins?)`;

    p.write("sv.yml", "");
    const status = await sv(p.root, ["status"]);
    expect(status.code).toBe(0);
    expect(status.stderr).toBe(`⚠ web: ${why}\n`);
    expect(status.stdout).toMatch(new RegExp(`^web +running +healthy +${pid} `, "m"));

    const down = await sv(p.root, ["down"]);
    expect(down.code).toBe(1);
    expect(down.stdout).toBe(`✘ web: ${why}\n`);
    expect(isAlive(pid)).toBe(true);
    expect((await unitStatus(p.root, "web")).state).toBe("stopping");

    p.write("sv.yml", "plugins: [./plugins/example/index.ts]\n");
    const again = await sv(p.root, ["down"]);
    expect(again.stdout).toBe("✓ web stopped\n");
    expect(again.code).toBe(0);
    expect(isAlive(pid)).toBe(false);
  });
});
