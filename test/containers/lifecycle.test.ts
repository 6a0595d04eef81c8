// Containers as services, end to end through dist/sv on podman and dockerd: a container as a local
// process's dependency, oneshot containers, healing (reconcile and watch), recreation on a changed
// definition, adoption with .sv/ deleted, orphans. Every test ends with nothing of its project in the engine.
import { expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BUN, eventIndex, events, freePort, status, sv, unitStatus, waitFor } from "../helpers/project.ts";
import { HTTPD, TEST_IMAGE, containerProject, expectNothingLeft, fetchText, idle, inspect, onEachEngine, svRunning } from "./support.ts";

/** The web container: busybox httpd published on 127.0.0.1:port, healthy once it serves. */
const web = (port: number, extra: Record<string, unknown> = {}) => ({
  image: TEST_IMAGE,
  pull: "never",
  command: HTTPD,
  ports: [`127.0.0.1:${port}:80`],
  health_check: { type: "http", url: `http://127.0.0.1:${port}/`, interval: "100ms" },
  stop_timeout: "3s",
  ...extra,
});

const RUNNING = /^✓ (\w+) running \(pid \d+\) in \d+ ms$/;

onEachEngine("containers: lifecycle", (engine) => {
  test("a container with a published port is a local process's dependency: it gets 127.0.0.1 and the host port and fetches through them", async () => {
    const port = freePort();
    const fetcher = `const url = "http://" + process.env.WEB_HOST + ":" + process.env.WEB_PORT + "/";
      const text = await (await fetch(url)).text();
      require("node:fs").writeFileSync("got.json", JSON.stringify({ host: process.env.WEB_HOST, port: process.env.WEB_PORT, text }));`;
    const p = containerProject(engine(), {
      web: web(port),
      client: { type: "oneshot", command: [BUN, "-e", fetcher], depends_on: { web: { condition: "healthy" } } },
    });

    const up = await sv(p.root, ["up"]);
    expect(up).toMatchObject({ code: 0, stderr: "" });
    const lines = up.stdout.trim().split("\n");
    expect(lines[0]).toMatch(RUNNING);
    expect(lines[0]).toStartWith("✓ web running");
    expect(lines[1]).toMatch(/^✓ client completed in \d+ ms$/);
    expect(JSON.parse(p.read("got.json"))).toEqual({ host: "127.0.0.1", port: String(port), text: "hello\n" });

    const web_ = await unitStatus(p.root, "web");
    expect(web_).toMatchObject({ name: "web", state: "running", health: "healthy", port, image: TEST_IMAGE, container: `${p.name}-web` });
    expect((await inspect(engine(), `${p.name}-web`))?.State.Running).toBe(true);

    const down = await sv(p.root, ["down"]);
    expect(down).toMatchObject({ code: 0 });
    expect(down.stdout).toBe("✓ client stopped\n✓ web stopped\n");
    await expectNothingLeft(engine(), p.name);
  });

  test("a oneshot container gates a local service (condition: completed); a failing one skips it and records its exit code", async () => {
    const probe = `const fs = require("node:fs"); fs.writeFileSync("seen.txt", fs.existsSync("out/done") ? fs.readFileSync("out/done", "utf8") : "missing"); setInterval(() => {}, 1e6);`;
    const migrate = (script: string) => ({ image: TEST_IMAGE, pull: "never", type: "oneshot", command: ["/bin/sh", "-c", script], volumes: ["./out:/out"] });
    const p = containerProject(engine(), {
      migrate: migrate("sleep 0.3; echo migrated > /out/done"),
      api: { command: [BUN, "-e", probe], depends_on: { migrate: { condition: "completed" } } },
    });
    p.write("out/.keep", "");

    const up = await sv(p.root, ["up"]);
    expect(up).toMatchObject({ code: 0, stderr: "" });
    const lines = up.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^✓ migrate completed in \d+ ms$/);
    expect(lines[1]).toMatch(RUNNING);
    await waitFor(() => existsSync(join(p.root, "seen.txt")), "api to look for the migration's mark");
    expect(p.read("seen.txt")).toBe("migrated\n");
    const log = events(p.root);
    expect(eventIndex(log, "migrate", "completed")).toBeGreaterThan(-1);
    expect(eventIndex(log, "migrate", "completed")).toBeLessThan(eventIndex(log, "api", "starting"));
    expect(await unitStatus(p.root, "migrate")).toMatchObject({ state: "completed", exit_code: 0, image: TEST_IMAGE });
    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);

    // The same project with a migration that exits 3: api never starts.
    p.service("migrate", migrate("exit 3"));
    rmSync(join(p.root, "seen.txt"));
    const failed = await sv(p.root, ["up"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("✘ migrate: migrate exited with code 3\n- api: skipped: migrate failed\n");
    expect(failed.stderr).toBe("✘ up: 1 of 2 services failed, 1 skipped\n");
    expect(existsSync(join(p.root, "seen.txt"))).toBe(false);
    const after = await status(p.root);
    expect(after.find((s) => s.name === "migrate")).toMatchObject({ state: "error", exit_code: 3, last_error: "migrate exited with code 3" });
    expect(after.find((s) => s.name === "api")).toMatchObject({ state: "stopped", pid: null });
    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });

  test("a container killed from outside is healed by one sv reconcile, and by sv watch from the engine's event stream", async () => {
    const port = freePort();
    const p = containerProject(engine(), { web: web(port) });
    const name = `${p.name}-web`;
    expect(await sv(p.root, ["up"])).toMatchObject({ code: 0, stderr: "" });
    expect(await fetchText(`http://127.0.0.1:${port}/`)).toBe("hello\n");

    const killed = "web was killed by SIGKILL";
    // Dead, or already replaced by another container (or started again) by the time we look.
    const kill = async () => {
      const before = (await inspect(engine(), name))!;
      expect(before.State.Running).toBe(true);
      await engine().api("POST", `/containers/${name}/kill?signal=KILL`);
      await waitFor(async () => {
        const now = await inspect(engine(), name);
        return !now?.State.Running || now.Id !== before.Id || now.State.StartedAt !== before.State.StartedAt;
      }, "the container to die");
    };
    await kill();
    const heal = await sv(p.root, ["reconcile"]);
    expect(heal.stdout).toBe(`web: running -> restarting (${killed})\nweb: restarting: ${killed}\nweb: running (health check passed)\n`);
    expect(heal).toMatchObject({ code: 0 });
    expect(await fetchText(`http://127.0.0.1:${port}/`)).toBe("hello\n");
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy", restarts: 1 });

    // sv watch with a full pass only every minute: a heal within seconds comes from the engine's `die` event.
    const watch = svRunning(p.root, ["watch", "--interval", "1m"]);
    await watch.until("watching 1 service");
    // The first kill may land before the watch has subscribed (then its first full pass sees it); the
    // second one, after that heal, can only be learned from the event stream.
    for (const round of [1, 2]) {
      const t0 = performance.now();
      await kill();
      await waitFor(() => fetchText(`http://127.0.0.1:${port}/`), `web to serve again (round ${round})`, 5_000).catch((e: Error) => {
        throw new Error(`${e.message}\nsv watch said:\n${watch.out()}${watch.err()}`);
      });
      expect(performance.now() - t0).toBeLessThan(5_000);
      const count = (text: string) => watch.out().split(text).length - 1;
      await waitFor(() => count("web: running (health check passed)") === round, `the watch to report heal ${round}`, 5_000);
      // A crash right after a restart backs off (restart_delay 100 ms, then doubling): the line says so.
      expect(count(`web: running -> restarting (${killed}`)).toBe(round);
    }
    const stopped = await watch.stop("SIGINT");
    expect(stopped.code).toBe(130);
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", restarts: 3 });

    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  }, 60_000);

  test("a changed definition shows in sv status and sv up recreates the container (a new one, the old one gone)", async () => {
    const port = freePort();
    const p = containerProject(engine(), { web: web(port, { env: { GREETING: "one" } }) });
    const name = `${p.name}-web`;
    expect(await sv(p.root, ["up"])).toMatchObject({ code: 0, stderr: "" });
    const before = await inspect(engine(), name);
    expect(before?.Config.Env).toContain("GREETING=one");

    p.service("web", web(port, { env: { GREETING: "two" } }));
    const st = await sv(p.root, ["status"]);
    expect(st).toMatchObject({ code: 0 });
    expect(st.stdout).toContain("definition changed (sv up recreates it)");
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", changed: true });

    const up = await sv(p.root, ["up"]);
    expect(up).toMatchObject({ code: 0 });
    expect(up.stdout).toMatch(/^✓ web running \(pid \d+\) in \d+ ms \(recreated: definition changed\)\n$/);
    const after = await inspect(engine(), name);
    expect(after?.Id).toBeDefined();
    expect(after!.Id).not.toBe(before!.Id);
    expect(after!.State.Running).toBe(true);
    expect(after!.Config.Env).toContain("GREETING=two");
    expect(await inspect(engine(), before!.Id)).toBeNull();
    expect(await unitStatus(p.root, "web")).not.toHaveProperty("changed");
    expect(await fetchText(`http://127.0.0.1:${port}/`)).toBe("hello\n");

    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });

  test("with .sv/ deleted, sv status finds the running container by its labels and sv down removes it", async () => {
    const port = freePort();
    const p = containerProject(engine(), { web: web(port) });
    expect(await sv(p.root, ["up"])).toMatchObject({ code: 0, stderr: "" });
    const id = (await inspect(engine(), `${p.name}-web`))!.Id;
    rmSync(join(p.root, ".sv"), { recursive: true, force: true });

    const st = await sv(p.root, ["status", "--json"]);
    expect(st).toMatchObject({ code: 0 });
    expect(JSON.parse(st.stdout).services).toEqual([expect.objectContaining({ name: "web", state: "running", image: TEST_IMAGE, container: `${p.name}-web` })]);
    expect((await inspect(engine(), `${p.name}-web`))?.Id).toBe(id);

    const down = await sv(p.root, ["down"]);
    expect(down).toMatchObject({ code: 0 });
    expect(down.stdout).toBe("✓ web stopped\n");
    expect(await fetchText(`http://127.0.0.1:${port}/`)).toBeNull();
    await expectNothingLeft(engine(), p.name);
  });

  test("a container whose service is gone from the config is an orphan: listed by sv status, removed by sv down", async () => {
    const port = freePort();
    const p = containerProject(engine(), { web: web(port), keep: { image: TEST_IMAGE, pull: "never", command: idle("true") } });
    expect(await sv(p.root, ["up"])).toMatchObject({ code: 0, stderr: "" });
    rmSync(join(p.root, "services/web.yml"));

    const st = await sv(p.root, ["status"]);
    expect(st).toMatchObject({ code: 0 });
    const row = st.stdout.split("\n").find((l) => l.startsWith("web "));
    expect(row).toContain("orphan: gone from the config (sv down stops it)");
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", orphan: true });

    const down = await sv(p.root, ["down"]);
    expect(down).toMatchObject({ code: 0 });
    expect(down.stdout.split("\n").sort()).toEqual(["", "✓ keep stopped", "✓ web stopped"]);
    expect(await fetchText(`http://127.0.0.1:${port}/`)).toBeNull();
    await expectNothingLeft(engine(), p.name);
  });
});
