// The lifecycle defects a new user hit on sv 0.1, one test each, against real processes: slow starters,
// changed definitions, orphans, clean exits after sv up returned, the restarting state, dependency order
// after everything died, instance ports, a port someone else holds, and stopping with a broken config.
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { BUN, events, fixture, freePort, isAlive, isListening, status, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";
import { killGroup } from "../supervise/support.ts";

const tcpServer = (port: number, delayMs = 0) => [BUN, "-e", `setTimeout(() => { Bun.listen({ hostname: "127.0.0.1", port: ${port}, socket: { data() {} } }); console.log("ready"); }, ${delayMs})`];

test("a service that needs 5 s before it listens comes up with the defaults (start_timeout: default_timeout, 60 s)", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/slow.yml", JSON.stringify({ command: tcpServer(port, 5000), port }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/^✓ slow running \(pid \d+\) in [5-9]\.\d s\n$/);
  expect(await unitStatus(p.root, "slow")).toMatchObject({ state: "running", health: "healthy", restarts: 0 });
}, 20_000);

test("a live service not ready within start_timeout fails with a message naming the timeout and the key to raise", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/slow.yml", JSON.stringify({ command: tcpServer(port, 60_000), port, start_timeout: "1s", restart: "no" }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(1);
  expect(up.stdout).toBe(
    `✘ slow: slow was not ready within 1 s (start_timeout): health check failed: 127.0.0.1:${port} refused the connection; raise start_timeout if it needs longer\n`,
  );
  expect(await unitStatus(p.root, "slow")).toMatchObject({ state: "error", pid: null });
});

test("sv up restarts a unit whose definition changed, says so, and leaves an unchanged one alone; --no-recreate keeps it", async () => {
  const p = tempProject();
  p.write("services/a.yml", JSON.stringify({ command: ["/bin/sleep", "1000"], env: { V: "1" } }));
  p.write("services/b.yml", JSON.stringify({ command: ["/bin/sleep", "1001"] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const before = await status(p.root);
  const [a0, b0] = [before.find((s) => s.name === "a")!.pid!, before.find((s) => s.name === "b")!.pid!];

  p.write("services/a.yml", JSON.stringify({ command: ["/bin/sleep", "1000"], env: { V: "2" } }));
  const json = JSON.parse((await sv(p.root, ["status", "--json"])).stdout).services;
  expect(json.find((s: { name: string }) => s.name === "a")).toMatchObject({ state: "running", changed: true, pid: a0 });
  expect(json.find((s: { name: string }) => s.name === "b").changed).toBeUndefined();

  const kept = await sv(p.root, ["up", "--no-recreate"]);
  expect(kept.code).toBe(0);
  expect((await unitStatus(p.root, "a")).pid).toBe(a0);

  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(up.stdout.split("\n").sort()).toEqual(["", expect.stringMatching(/^✓ a running \(pid \d+\) in \d+ ms \(recreated: definition changed\)$/), "✓ b already running"]);
  const after = await status(p.root);
  expect(after.find((s) => s.name === "a")!.pid).not.toBe(a0);
  expect(isAlive(a0)).toBe(false);
  expect(after.find((s) => s.name === "b")!.pid).toBe(b0);
  expect(events(p.root).some((e) => e.service === "a" && e.reason === "recreating: definition changed")).toBe(true);
});

test("a service deleted from the config while running is an orphan: listed, warned about by up, stopped by down NAME", async () => {
  const p = tempProject();
  p.write("services/keep.yml", JSON.stringify({ command: ["/bin/sleep", "1002"] }));
  p.write("services/gone.yml", JSON.stringify({ command: ["/bin/sleep", "1003"], stop_signal: "SIGINT" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const gonePid = (await unitStatus(p.root, "gone")).pid!;
  rmSync(`${p.root}/services/gone.yml`);

  const st = JSON.parse((await sv(p.root, ["status", "--json"])).stdout).services;
  expect(st.find((s: { name: string }) => s.name === "gone")).toMatchObject({ state: "running", pid: gonePid, orphan: true, type: "simple" });
  const table = (await sv(p.root, ["status"])).stdout;
  expect(table).toContain("orphan: gone from the config (sv down stops it)");

  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(up.stderr).toContain("found orphan gone: recorded as running, but gone from the config; `sv down gone` or `sv up --remove-orphans` stops it");
  expect(isAlive(gonePid)).toBe(true);

  const down = await sv(p.root, ["down", "gone"]);
  expect(down.code).toBe(0);
  expect(down.stdout).toBe("✓ gone stopped\n");
  expect(isAlive(gonePid)).toBe(false);
  // Its recorded stop signal was used (sleep dies of SIGINT as of SIGTERM; the event says stopped, not killed).
  expect(events(p.root).filter((e) => e.service === "gone").at(-1)).toMatchObject({ from: "stopping", to: "stopped", reason: "stopped" });
  expect((await unitStatus(p.root, "keep")).state).toBe("running");
});

test("sv up --remove-orphans stops orphans; a bare sv down stops them too", async () => {
  const p = tempProject();
  p.write("services/a.yml", JSON.stringify({ command: ["/bin/sleep", "1004"] }));
  p.write("services/b.yml", JSON.stringify({ command: ["/bin/sleep", "1005"] }));
  p.write("services/c.yml", JSON.stringify({ command: ["/bin/sleep", "1006"] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const [b, c] = [(await unitStatus(p.root, "b")).pid!, (await unitStatus(p.root, "c")).pid!];
  rmSync(`${p.root}/services/b.yml`);
  const up = await sv(p.root, ["up", "--remove-orphans"]);
  expect(up.code).toBe(0);
  expect(up.stdout).toContain("✓ b stopped");
  expect(isAlive(b)).toBe(false);
  rmSync(`${p.root}/services/c.yml`);
  expect((await sv(p.root, ["down"])).code).toBe(0);
  expect(isAlive(c)).toBe(false);
});

test("a clean exit of a restart: no service started by a finished sv up is completed, and reconcile is content", async () => {
  const p = tempProject();
  p.write("services/once.yml", JSON.stringify({ command: ["sh", "-c", "test -e stop || sleep 0.3; exit 0"], restart: "no", health_check: { type: "process" } }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const pid = (await unitStatus(p.root, "once")).pid!;
  await waitFor(() => !isAlive(pid), "the service to exit");
  expect(await unitStatus(p.root, "once")).toMatchObject({ state: "completed", exit_code: 0, last_error: null });
  const r = await sv(p.root, ["reconcile"]);
  expect(r.code).toBe(0);
});

test("a non-zero exit after sv up returned is known too: the reason names the code", async () => {
  const p = tempProject();
  p.write("services/fails.yml", JSON.stringify({ command: ["sh", "-c", "sleep 0.3; exit 7"], restart: "no" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const pid = (await unitStatus(p.root, "fails")).pid!;
  await waitFor(() => !isAlive(pid), "the service to exit");
  expect(await unitStatus(p.root, "fails")).toMatchObject({ state: "error", exit_code: 7, last_error: "fails exited with code 7" });
});

test("a crashed service waiting out its backoff is restarting, with the time of the next try in status and JSON", async () => {
  const p = tempProject();
  p.write("services/flaky.yml", JSON.stringify({ command: ["sh", "-c", "sleep 0.2; exit 3"], restart_delay: "5s", max_restarts: 0 }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  // First crash: restarted at once by reconcile; the second in a row waits restart_delay (5 s).
  await waitFor(async () => (await unitStatus(p.root, "flaky")).state !== "running", "the first crash");
  await sv(p.root, ["reconcile", "--no-wait-lock"]).catch(() => undefined);
  const json = await waitFor(async () => {
    await sv(p.root, ["status"]);
    const s = JSON.parse((await sv(p.root, ["status", "--json"])).stdout).services[0];
    return s.state === "restarting" && s.next_restart_at && Date.parse(s.next_restart_at) > Date.now() + 1000 ? s : null;
  }, "a backoff wait", 15_000);
  expect(json).toMatchObject({ name: "flaky", state: "restarting", pid: null, last_error: expect.stringContaining("flaky exited with code 3") });
  expect((await sv(p.root, ["status"])).stdout).toMatch(/restarting .*restart in \d\.\d s; flaky exited with code 3/);
}, 30_000);

test("after every process died, reconcile restarts dependencies first and dependents only once they are healthy", async () => {
  const p = tempProject();
  const dbPort = freePort();
  p.write("services/db.yml", JSON.stringify({ command: tcpServer(dbPort, 700), port: dbPort }));
  p.write("services/api.yml", JSON.stringify({ command: ["sh", "-c", `echo "$DB_PORT" >> started; exec sleep 1007`], depends_on: { db: { condition: "healthy" } } }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  // A reboot, as far as the services know: every group SIGKILLed.
  for (const s of await status(p.root)) killGroup(s.pid!);
  await waitFor(async () => !(await isListening(dbPort)), "db gone");
  const r = await sv(p.root, ["reconcile"]);
  expect(r.code).toBe(0);
  const ev = events(p.root);
  const dbReady = ev.findLastIndex((e) => e.service === "db" && e.to === "running");
  const apiStart = ev.findLastIndex((e) => e.service === "api" && e.to === "starting");
  expect(dbReady).toBeGreaterThan(-1);
  expect(apiStart).toBeGreaterThan(dbReady);
  expect(Date.parse(ev[apiStart]!.ts)).toBeGreaterThanOrEqual(Date.parse(ev[dbReady]!.ts));
  expect((await status(p.root)).map((s) => [s.name, s.state])).toEqual([
    ["api", "running"],
    ["db", "running"],
  ]);
});

test("instances: 2 with port: P gives instance i PORT=P+i and probes it there", async () => {
  const p = tempProject();
  // Two free ports in a row.
  let port = freePort();
  while (await isListening(port + 1)) port = freePort();
  p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, instances: 2 }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(await isListening(port)).toBe(true);
  expect(await isListening(port + 1)).toBe(true);
  const rows = JSON.parse((await sv(p.root, ["status", "--json"])).stdout).services;
  expect(rows.map((r: { name: string; port: number; state: string }) => [r.name, r.port, r.state])).toEqual([
    ["web.0", port, "running"],
    ["web.1", port + 1, "running"],
  ]);
  expect(readFileSync(`${p.root}/.sv/log/web.1.log`, "utf8")).toContain(`ready on ${port + 1}`);
});

test("a port another process holds fails the start at once, naming the holder: never a false running", async () => {
  const p = tempProject();
  const port = freePort();
  const holder = Bun.spawn([BUN, fixture("tcp-server.ts"), String(port)], { stdout: "pipe" });
  try {
    await waitFor(() => isListening(port), "the foreign listener");
    p.write("services/web.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart: "no" }));
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(1);
    expect(up.stdout).toBe(`✘ web: web: port ${port} is already in use by pid ${holder.pid} (${BUN} ${fixture("tcp-server.ts")} ${port})\n`);
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "error", pid: null });
  } finally {
    holder.kill("SIGKILL");
  }
});

test("sv down and sv status work when an http include's server is down or a variable is unset", async () => {
  const p = tempProject();
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(JSON.stringify({ services: { remote: { command: ["/bin/sleep", "1008"] } } })) });
  p.write("sv.yml", `include: ["http://127.0.0.1:${server.port}/services.json"]\n`);
  p.write("services/local.yml", JSON.stringify({ command: ["/bin/sleep", "1009"] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const pids = (await status(p.root)).map((s) => s.pid!);
  expect(pids).toHaveLength(2);
  server.stop(true);
  // And an unset variable in another file for good measure.
  p.write("services/later.yml", JSON.stringify({ command: "${SV_TEST_SURELY_UNSET}" }));

  const st = await sv(p.root, ["status"]);
  expect(st.code).toBe(0);
  expect(st.stderr).toMatch(/the configuration cannot be loaded \(.+\); showing what the store recorded/);
  expect(st.stdout).toContain("orphan");
  const down = await sv(p.root, ["down"]);
  expect(down.code).toBe(0);
  expect(down.stderr).toMatch(/the configuration cannot be loaded \(.+\); working from what the store recorded/);
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
  // up still requires a valid config.
  expect((await sv(p.root, ["up"])).code).toBe(2);
});
