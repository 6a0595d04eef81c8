// An sv project of `image:` services on one engine, for the container phases: sv.yml names the project and
// its engine (docker.host: DIR/engine.sock, a symlink to the engine's socket, re-pointed at a recording
// proxy for the profiled runs, so sv's config is the same either way), services/NAME.yml each a busybox
// httpd publishing 127.0.0.1:PORT -> 80. Containers are <project>-<name>; the raw baseline's is <project>-raw.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../proc.ts";
import { startWatch, tail, type Watch } from "../tools/sv.ts";
import { countStates, parseJsonAfter, type ServiceSpec, type Session, type Supervisor } from "../tools/tool.ts";
import { type Engine, TEST_IMAGE } from "./engine.ts";
import { type Proxy, startProxy } from "./proxy.ts";

/** busybox httpd as PID 1 ignores SIGTERM: a trap makes `sv down` quick. The image may have no PATH: absolute paths. */
export const HTTPD = ["/bin/sh", "-c", "trap 'exit 0' TERM; /bin/httpd -f -p 80 -h /www & wait"];
/** Label on the raw baseline's containers (not sv's labels: sv must not see them as its own). */
export const RAW_LABEL = "dev.sv.bench";

export interface ContainerSession extends Session {
  engine: Engine;
  bin: string;
  /** The project name (sv.yml name:): containers are `<project>-<service>`. */
  project: string;
  /** The recording proxy's log (only sv's traffic while routed through it). */
  proxy: Proxy;
  /** Send sv's engine traffic through the recording proxy (true) or straight to the engine (false, the default). */
  route(viaProxy: boolean): void;
  /** sv watch's log (JSON lines, --log-format json). */
  watchLog: string;
  /** The engine's id of a service's container, or null if there is none. */
  containerId(service: string): Promise<string | null>;
  /** Every container of the project and of the raw baseline: name -> state. */
  containers(): Promise<Map<string, string>>;
}

export interface ContainerProjectOptions {
  /** restart_delay in every service file (default: sv's own). */
  restartDelay?: string;
}

export async function openContainerSession(bin: string, engine: Engine, dir: string, project: string, services: ServiceSpec[], timeoutMs: number, options: ContainerProjectOptions = {}): Promise<ContainerSession> {
  mkdirSync(join(dir, "services"), { recursive: true });
  const link = join(dir, "engine.sock");
  const proxy = startProxy(engine.socket, join(dir, "proxy.sock"));
  const route = (viaProxy: boolean) => {
    const tmp = `${link}.new`;
    rmSync(tmp, { force: true });
    symlinkSync(viaProxy ? proxy.socket : engine.socket, tmp);
    renameSync(tmp, link);
  };
  route(false);
  writeFileSync(join(dir, "sv.yml"), `name: ${project}\ndocker:\n  host: unix://${link}\n`);
  for (const s of services) {
    const lines = [`image: ${TEST_IMAGE}`, `command: ${JSON.stringify(HTTPD)}`, `ports: ["127.0.0.1:${s.port}:80"]`];
    if (options.restartDelay !== undefined) lines.push(`restart_delay: ${options.restartDelay}`);
    writeFileSync(join(dir, "services", `${s.name}.yml`), `${lines.join("\n")}\n`);
  }
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env.DOCKER_HOST;
  const watchLog = join(dir, "watch.log");
  let watch: Watch | undefined;
  const stopWatch = async () => watch?.stop();

  const listed = async (): Promise<{ Id: string; Names: string[]; State: string }[]> => {
    const mine = encodeURIComponent(JSON.stringify({ label: [`dev.sv.project=${project}`] }));
    const raw = encodeURIComponent(JSON.stringify({ label: [`${RAW_LABEL}=${project}`] }));
    const [a, b] = await Promise.all([engine.api("GET", `/containers/json?all=1&filters=${mine}`), engine.api("GET", `/containers/json?all=1&filters=${raw}`)]);
    return [...a, ...b];
  };

  const session: ContainerSession = {
    dir,
    env,
    engine,
    bin,
    project,
    proxy,
    route,
    watchLog,
    up: [bin, "up", ...services.map((s) => s.name)],
    down: [bin, "down", ...services.map((s) => s.name)],
    status: [bin, "status", "--json"],
    crashGroup: false,
    checkStatus(r) {
      if (r.code !== 0) return `sv status exited with code ${r.code}: ${r.stderr.trim().slice(0, 200)}`;
      const rows = (parseJsonAfter(r.stdout, "{") as { services: { name: string; state: string }[] }).services;
      const running = rows.filter((x) => x.state === "running").length;
      return rows.length === services.length && running === services.length ? null : `sv status shows ${running} of ${services.length} containers running (${countStates(rows.map((x) => x.state))})`;
    },
    async diagnose() {
      const r = await run([bin, "status", "--json"], { cwd: dir, env, timeoutMs });
      const inEngine = await session.containers().then(
        (m) => `engine: ${countStates([...m.values()])}`,
        (e: Error) => `engine: ${e.message}`,
      );
      const watching = watch ? `; sv watch ${watch.exited ? `exited (${watch.proc.exitCode})` : "running"}, last lines: ${tail(watchLog, 3)}` : "";
      if (r.code !== 0) return `sv status: ${r.stderr.trim().slice(0, 300)}; ${inEngine}${watching}`;
      const rows = (parseJsonAfter(r.stdout, "{") as { services: { state: string; last_error: string | null }[] }).services;
      const error = rows.find((x) => x.last_error)?.last_error;
      return `sv status: ${countStates(rows.map((x) => x.state))}${error ? `; e.g. ${error}` : ""}; ${inEngine}${watching}`;
    },
    async supervise(): Promise<Supervisor> {
      if (!watch || watch.exited) watch = await startWatch(bin, dir, env, watchLog, timeoutMs, ["--log-format", "json"]);
      return { pid: watch.proc.pid, what: `sv watch (pid ${watch.proc.pid})` };
    },
    unsupervise: stopWatch,
    async containerId(service) {
      const rows = await listed();
      return rows.find((c) => c.Names?.some((n) => n.replace(/^\//, "") === `${project}-${service}`))?.Id ?? null;
    },
    async containers() {
      return new Map((await listed()).map((c) => [(c.Names?.[0] ?? c.Id).replace(/^\//, ""), c.State]));
    },
    async close() {
      try {
        await stopWatch();
        route(false);
        await run([bin, "down"], { cwd: dir, env, timeoutMs });
        // whatever is left (a failed down, the raw baseline's container): removed by force
        const left = await listed().catch(() => []);
        await Promise.all(left.map((c) => engine.api("DELETE", `/containers/${c.Id}?force=1`).catch(() => {})));
      } finally {
        proxy.close();
      }
    },
  };
  return session;
}

/** The JSON lines of sv watch's log since byte `from` (lines that are not JSON are skipped). */
export function watchEvents(file: string, from = 0): { ts: number; msg: string; event?: string; to?: string; unit?: string }[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8").slice(from);
  const out: { ts: number; msg: string; event?: string; to?: string; unit?: string }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line) as { ts: string; msg: string; event?: string; to?: string; unit?: string };
      out.push({ ...o, ts: Date.parse(o.ts) });
    } catch {}
  }
  return out;
}
