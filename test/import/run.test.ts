// Imported projects run: for a process-compose file, a Procfile and a supervisord config (realistic files of each,
// under test/fixtures/import/), `sv up` brings the processes up in order, health checks pass, the web server answers,
// each instance knows its number, and `sv down` stops everything.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, isListening, status, sv, waitFor } from "../helpers/project.ts";
import { projectWith, service, unmappedLines } from "./support.ts";

/** The states of a project's units: name -> "state/health". */
async function states(root: string, env: Record<string, string> = {}): Promise<Record<string, string>> {
  const r = await sv(root, ["status", "--json"], { env });
  return Object.fromEntries(JSON.parse(r.stdout).services.map((s: { name: string; state: string; health: string }) => [s.name, `${s.state}/${s.health}`]));
}

const logOf = (root: string, unit: string) => (existsSync(join(root, ".sv/log", `${unit}.log`)) ? readFileSync(join(root, ".sv/log", `${unit}.log`), "utf8") : "");

test("process-compose: conditions, an http readiness probe, replicas and a disabled process, up and down", async () => {
  const p = projectWith("process-compose");
  const port = freePort();
  const env = { WEB_PORT: String(port) };
  const r = await sv(p.root, ["import", "process-compose", "src/process-compose.yaml"]);
  expect(r.code).toBe(0);
  expect(service(p.root, "web")).toEqual({
    description: "The static site",
    command: "busybox httpd -f -p 127.0.0.1:${WEB_PORT:-8080} -h www",
    cwd: "./src",
    env: { APP_ENV: "development", GREETING: "hello" },
    port: "${WEB_PORT:-8080}",
    depends_on: { seed: { condition: "completed" } },
    health_check: { type: "http", url: "http://127.0.0.1:${WEB_PORT:-8080}/index.html", interval: "1s", timeout: "2s", retries: 10, start_period: "0s" },
    restart: "on-failure",
    restart_delay: "2s",
    restart_max_delay: "2s",
    max_restarts: 5,
    stop_signal: "SIGTERM",
    stop_timeout: "5s",
  });
  expect(service(p.root, "seed")).toMatchObject({ type: "oneshot", restart: "no", command: 'mkdir -p www && echo "hello from $${APP_ENV}" > www/index.html' });
  expect(service(p.root, "worker")).toMatchObject({
    command: 'while true; do echo "worker $${SV_INSTANCE} tick"; sleep 1; done',
    instances: 2,
    depends_on: { web: { condition: "healthy" } },
    health_check: { type: "command", command: "test -f www/index.html", interval: "2s", retries: 3 },
    restart: "always",
    stop_signal: "SIGINT",
    hooks: { pre_stop: "echo worker stopping" },
  });
  expect(service(p.root, "docs").type).toBe("on-demand");
  expect(service(p.root, "legacy").type).toBe("on-demand");
  expect(unmappedLines(r.stderr)).toEqual([
    "src/process-compose.yaml:2: log_level: not supported",
    "src/process-compose.yaml:3: log_location: sv keeps each service's output in .sv/log/NAME.log",
    "src/process-compose.yaml:57: processes.worker.shutdown.command: sv runs it as a pre_stop hook, then sends the stop signal (process-compose sent no signal)",
    "src/process-compose.yaml:64: processes.docs.ready_log_line: sv has no log-line readiness: give it a readiness_probe (health_check)",
    "src/process-compose.yaml:68: processes.legacy.is_daemon: sv supervises processes that stay in the foreground: run it without forking into the background",
    "src/process-compose.yaml:70: processes.legacy.log_location: sv keeps each service's output in .sv/log/NAME.log",
  ]);
  expect((await sv(p.root, ["validate"], { env })).code).toBe(0);

  const up = await sv(p.root, ["up"], { env });
  expect(up.stderr).toBe("");
  expect(up.code).toBe(0);
  expect(await states(p.root, env)).toEqual({
    docs: "stopped/unknown",
    legacy: "stopped/unknown",
    seed: "completed/unknown",
    web: "running/healthy",
    "worker.0": "running/healthy",
    "worker.1": "running/healthy",
  });
  expect(await (await fetch(`http://127.0.0.1:${port}/index.html`)).text()).toBe("hello from development\n");
  await waitFor(() => logOf(p.root, "worker.1").includes("worker 1 tick") && logOf(p.root, "worker.0").includes("worker 0 tick"), "each replica to print its number");
  const down = await sv(p.root, ["down"], { env });
  expect(down.code).toBe(0);
  expect(logOf(p.root, "worker.0")).toContain("worker stopping");
  expect((await status(p.root)).every((s) => s.state === "stopped")).toBe(true);
  expect(await isListening(port)).toBe(false);
});

test("Procfile: foreman's .env and PORT, a release task, shell commands; up and down", async () => {
  const p = projectWith("procfile");
  const port = freePort();
  p.write("src/.env", `PORT=${port}\nAPP_ENV=development\n`);
  const r = await sv(p.root, ["import", "procfile", "src/Procfile"]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  expect(service(p.root, "web")).toEqual({ command: "busybox httpd -f -p 127.0.0.1:$PORT -h www", cwd: "./src", env_file: "./src/.env", port });
  expect(service(p.root, "worker")).toEqual({ command: 'while true; do echo "working in $APP_ENV"; sleep 2; done', cwd: "./src", env_file: "./src/.env" });
  expect(service(p.root, "release")).toEqual({ type: "oneshot", command: 'echo "release $${RELEASE_VERSION:-dev} ready"', cwd: "./src", env_file: "./src/.env" });
  expect(p.read("services/web.yml")).toBe(`# Imported by \`sv import procfile\` from src/Procfile (web, line 2).\n\ncommand: busybox httpd -f -p 127.0.0.1:$PORT -h www\ncwd: ./src\nenv_file: ./src/.env\nport: ${port}\n`);

  const up = await sv(p.root, ["up"]);
  expect(up.stderr).toBe("");
  expect(up.code).toBe(0);
  expect(await states(p.root)).toEqual({ clock: "running/healthy", release: "completed/unknown", web: "running/healthy", worker: "running/healthy" });
  expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("<h1>hello from the Procfile</h1>\n");
  expect(logOf(p.root, "release")).toBe("release dev ready\n");
  await waitFor(() => logOf(p.root, "worker").includes("working in development"), "the worker to read APP_ENV from .env");
  expect((await sv(p.root, ["down"])).code).toBe(0);
  expect(await isListening(port)).toBe(false);
});

test("supervisord: [include], priorities as after:, numprocs with %(process_num)d, a one-time task; up and down", async () => {
  const p = projectWith("supervisord");
  const port = freePort();
  const env = { WEB_PORT: String(port) };
  const r = await sv(p.root, ["import", "supervisord", "src/supervisord.conf"]);
  expect(r.code).toBe(0);
  expect(service(p.root, "web")).toEqual({
    command: ["busybox", "httpd", "-f", "-p", "127.0.0.1:${WEB_PORT}", "-h", `${p.root}/src/www`],
    cwd: "./src",
    env: { APP_ENV: "production", TZ: "UTC", GREETING: "hello, world" },
    port: "${WEB_PORT}",
    after: ["migrate"],
    restart: "always",
    max_restarts: 5,
    stop_signal: "SIGTERM",
    stop_timeout: "5s",
    log: { max_size: "20MB", keep: 3 },
  });
  expect(service(p.root, "migrate")).toMatchObject({ type: "oneshot", command: ["/bin/sh", "-c", "echo migrating; sleep 0.2; echo migrated"], restart: "no" });
  expect(service(p.root, "worker")).toMatchObject({
    command: `exec /bin/sh -c 'while true; do echo "worker '"$SV_INSTANCE"' of 2"; sleep 1; done'`,
    instances: 2,
    after: ["migrate", "web"],
    restart: "on-failure",
    stop_signal: "SIGINT",
  });
  expect(service(p.root, "report")).toMatchObject({ type: "on-demand", command: ["/usr/local/bin/nightly-report", "--full", "--format=csv"], user: "reporter", after: ["migrate", "web", "worker"] });
  expect(unmappedLines(r.stderr)).toEqual([
    "src/supervisord.conf:21: program:migrate.startsecs: startsecs=0 with autorestart=false: a one-time task, so type oneshot (exit 0 is completed)",
    "src/supervisord.conf:23: program:migrate.stdout_logfile: sv keeps each service's output (stdout and stderr) in .sv/log/NAME.log",
    "src/supervisord.conf:32: program:web.startsecs: sv has no minimum uptime: a process is ready when its health check passes (or it is alive after a short grace period)",
    "src/supervisord.conf:39: program:web.stdout_logfile: sv keeps each service's output (stdout and stderr) in .sv/log/NAME.log",
    "src/conf.d/workers.conf:7: program:worker.exitcodes: sv takes only exit code 0 as expected (restart: on-failure restarts on any other)",
    "src/conf.d/workers.conf:9: program:worker.umask: not supported: set it in the command (sh -c 'umask 022; exec ...')",
    "src/conf.d/workers.conf:17: [group:backend]: sv has no groups: its programs (web, worker) are services of their own",
    "src/conf.d/workers.conf:21: [eventlistener:crashmail]: sv has no event listeners (see sv events)",
  ]);
  // An included program's file names the file it came from.
  expect(p.read("services/worker.yml").split("\n")[0]).toBe("# Imported by `sv import supervisord` from src/conf.d/workers.conf ([program:worker], line 1).");

  const up = await sv(p.root, ["up"], { env });
  expect(up.stderr).toBe("");
  expect(up.code).toBe(0);
  expect(await states(p.root, env)).toEqual({ migrate: "completed/unknown", report: "stopped/unknown", web: "running/healthy", "worker.0": "running/healthy", "worker.1": "running/healthy" });
  expect(logOf(p.root, "migrate")).toBe("migrating\nmigrated\n");
  expect(await (await fetch(`http://127.0.0.1:${port}/index.html`)).text()).toBe("<h1>hello from supervisord</h1>\n");
  await waitFor(() => logOf(p.root, "worker.0").includes("worker 0 of 2") && logOf(p.root, "worker.1").includes("worker 1 of 2"), "each instance to print its number");
  expect((await sv(p.root, ["down"], { env })).code).toBe(0);
  expect(await isListening(port)).toBe(false);
});
