// Health checks against real servers: a service whose check fails ends in `error` with the reason.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, events, fixture, freePort, isAlive, isListening, killAfterTest, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

const FAST = { interval: "100ms", timeout: "1s", retries: 3 };

/** An HTTP server outside sv answering GET /health with the status in `statusFile`. */
async function httpServer(statusFile: string): Promise<number> {
  const port = freePort();
  const server = Bun.spawn([BUN, fixture("http-server.ts"), statusFile], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "ignore"] });
  killAfterTest(server.pid);
  await waitFor(() => isListening(port), `http server on ${port}`);
  return port;
}

/** Run `sv up`, expect it to fail with exactly `line` for `name`, and check the store and the process. */
async function expectFailedUp(root: string, name: string, reason: string): Promise<void> {
  const up = await sv(root, ["up"]);
  expect(up.stdout).toBe(`✘ ${name}: ${reason}\n`);
  expect(up.stderr).toBe("✘ up: 1 of 1 service failed\n");
  expect(up.code).toBe(1);
  const s = await unitStatus(root, name);
  expect({ state: s.state, pid: s.pid, last_error: s.last_error, wanted: s.wanted }).toEqual({ state: "error", pid: null, last_error: reason, wanted: "up" });
  // The process it started was killed, not left behind.
  const started = events(root).find((e) => e.service === name && e.to === "starting")!;
  expect(started.pid).toBeNumber();
  expect(isAlive(started.pid!)).toBe(false);
  expect(events(root).at(-1)).toMatchObject({ service: name, from: "starting", to: "error", reason });
}

test("an http check answering 500 ends in error, naming the url and the status", async () => {
  const p = tempProject({ status: "500\n" });
  // The server runs outside sv, so the failure cannot be a slow start that got "connection refused".
  const port = await httpServer(join(p.root, "status"));
  const url = `http://127.0.0.1:${port}/health`;
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], health_check: { type: "http", url, ...FAST } }));
  await expectFailedUp(p.root, "web", `health check failed: ${url} returned 500 (expected 200)`);
});

test("the same http check passes when the server answers 200 (control)", async () => {
  const p = tempProject({ status: "200\n" });
  const port = await httpServer(join(p.root, "status"));
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], health_check: { type: "http", url: `http://127.0.0.1:${port}/health`, ...FAST } }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/^✓ web running \(pid \d+\) in \d+ ms\n$/);
  expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy", last_error: null });
});

test("a tcp check on a port nobody opens ends in error", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/quiet.yml", JSON.stringify({ command: ["sleep", "1000"], port, health_check: { type: "tcp", ...FAST } }));
  await expectFailedUp(p.root, "quiet", `health check failed: 127.0.0.1:${port} refused the connection`);
});

test("a command check exiting 1 ends in error, with the command's last stderr line", async () => {
  const p = tempProject();
  p.write("services/job.yml", JSON.stringify({ command: ["sleep", "1000"], health_check: { type: "command", command: "echo warming up >&2; echo not ready >&2; exit 1", ...FAST } }));
  await expectFailedUp(p.root, "job", "health check failed: health command exited with code 1 (expected 0): not ready");
});

test("a process that exits while starting ends in error with its exit code", async () => {
  const p = tempProject();
  p.write("services/crash.yml", JSON.stringify({ command: "echo boom; exit 7", health_check: { type: "command", command: "exit 1", ...FAST } }));
  await expectFailedUp(p.root, "crash", "crash exited with code 7 while starting");
  expect(p.read(".sv/log/crash.log")).toBe("boom\n");
});

test("sv status turns a running service unhealthy after `retries` failed checks, and healthy again", async () => {
  const p = tempProject({ status: "200\n" });
  const port = await httpServer(join(p.root, "status"));
  const url = `http://127.0.0.1:${port}/health`;
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no", health_check: { type: "http", url, ...FAST, retries: 2 } }));
  expect((await sv(p.root, ["up"])).code).toBe(0);

  p.write("status", "503\n");
  // Each `sv status` runs the check once; a failure counts at most once per interval (100 ms here), so the
  // first look counts one, and a look an interval later makes it unhealthy.
  expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy" });
  const s = await waitFor(async () => {
    const u = await unitStatus(p.root, "web");
    return u.health === "unhealthy" && u;
  }, "web to turn unhealthy");
  expect(s).toMatchObject({ state: "running", health: "unhealthy", last_error: `health check failed: ${url} returned 503 (expected 200)` });
  expect(events(p.root).at(-1)).toMatchObject({ service: "web", from: "running", to: "running", reason: `unhealthy: health check failed: ${url} returned 503 (expected 200)` });

  p.write("status", "200\n");
  expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy" });
  expect(events(p.root).at(-1)).toMatchObject({ service: "web", reason: "health check passed again" });
});

test("looking often does not make a service unhealthy sooner: failures count once per check interval", async () => {
  const p = tempProject({ status: "503\n" });
  const port = await httpServer(join(p.root, "status"));
  const url = `http://127.0.0.1:${port}/health`;
  p.write("status", "200\n");
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no", health_check: { type: "http", url, interval: "1h", timeout: "1s", retries: 2 } }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  p.write("status", "503\n");
  for (let i = 0; i < 4; i++) expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy" });
  expect(events(p.root).some((e) => e.reason.startsWith("unhealthy"))).toBe(false);
});
