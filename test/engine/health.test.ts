// Health checks against real servers: a live service whose check keeps failing is not ready within its
// start_timeout and fails its start with the check's reason; the restart policy then decides between
// restarting (on-failure, the default) and error (restart: no).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, events, fixture, freePort, isAlive, isListening, killAfterTest, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

const FAST = { interval: "100ms", timeout: "1s", retries: 3 };
/** Failing checks fail a live unit only at its start_timeout: keep it short. */
const SHORT = { start_timeout: "1s" };

/** An HTTP server outside sv answering GET /health with the status in `statusFile`. */
async function httpServer(statusFile: string): Promise<number> {
  const port = freePort();
  const server = Bun.spawn([BUN, fixture("http-server.ts"), statusFile], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "ignore"] });
  killAfterTest(server.pid);
  await waitFor(() => isListening(port), `http server on ${port}`);
  return port;
}

/** The start_timeout failure of a live unit whose check kept failing with `check`. */
const notReady = (name: string, check: string) => `${name} was not ready within 1 s (start_timeout): ${check}; raise start_timeout if it needs longer`;

/**
 * Run `sv up`, expect it to fail with exactly `reason` for `name`, the unit to end in `state` (restarting:
 * due at once, the first failure has no backoff; error: nothing scheduled), and its process to be gone.
 */
async function expectFailedUp(root: string, name: string, reason: string, state: "restarting" | "error"): Promise<void> {
  const up = await sv(root, ["up"]);
  expect(up.stdout).toBe(`✘ ${name}: ${reason}\n`);
  expect(up.stderr).toBe("✘ up: 1 of 1 service failed\n");
  expect(up.code).toBe(1);
  const s = (await unitStatus(root, name)) as Awaited<ReturnType<typeof unitStatus>> & { next_restart_at?: string; since: string };
  expect({ state: s.state, pid: s.pid, last_error: s.last_error, wanted: s.wanted, restarts: s.restarts }).toEqual({ state, pid: null, last_error: reason, wanted: "up", restarts: 0 });
  // Only a restarting unit shows when it is next tried.
  if (state === "restarting") expect(s.next_restart_at).toBe(s.since);
  else expect(s.next_restart_at).toBeUndefined();
  const log = events(root).filter((e) => e.service === name);
  expect(log.map((e) => `${e.from}->${e.to}: ${e.reason}`)).toEqual(["stopped->starting: sv up", `starting->${state}: ${reason}`]);
  // The process it started (the end names its pid) was killed, not left behind.
  expect(log.at(-1)!.pid).toBeNumber();
  expect(isAlive(log.at(-1)!.pid!)).toBe(false);
}

test("an http check answering 500 fails the start at start_timeout, naming the url and the status; restart: no ends in error", async () => {
  const p = tempProject({ status: "500\n" });
  // The server runs outside sv, so the failure cannot be a slow start that got "connection refused".
  const port = await httpServer(join(p.root, "status"));
  const url = `http://127.0.0.1:${port}/health`;
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no", ...SHORT, health_check: { type: "http", url, ...FAST } }));
  await expectFailedUp(p.root, "web", notReady("web", `health check failed: ${url} returned 500 (expected 200)`), "error");
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

test("a tcp check on a port nobody opens fails the start at start_timeout; on-failure (the default) leaves it restarting", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/quiet.yml", JSON.stringify({ command: ["sleep", "1000"], port, ...SHORT, health_check: { type: "tcp", ...FAST } }));
  await expectFailedUp(p.root, "quiet", notReady("quiet", `health check failed: 127.0.0.1:${port} refused the connection`), "restarting");
});

test("a command check exiting 1 fails the start at start_timeout, with the command's last stderr line", async () => {
  const p = tempProject();
  p.write("services/job.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no", ...SHORT, health_check: { type: "command", command: "echo warming up >&2; echo not ready >&2; exit 1", ...FAST } }));
  await expectFailedUp(p.root, "job", notReady("job", "health check failed: health command exited with code 1 (expected 0): not ready"), "error");
});

test.each([
  ["on-failure", "restarting"],
  ["no", "error"],
] as const)("a process that exits while starting fails at once with its exit code (restart: %s -> %s)", async (restart, state) => {
  const p = tempProject();
  // Its end, not the start_timeout (60 s by default), fails the start.
  p.write("services/crash.yml", JSON.stringify({ command: "echo boom; exit 7", restart, health_check: { type: "command", command: "exit 1", ...FAST } }));
  const t0 = performance.now();
  await expectFailedUp(p.root, "crash", "crash exited with code 7 while starting", state);
  expect(performance.now() - t0).toBeLessThan(5000);
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
