// An sv project of services on the rig's hosts, for the host phases: sv.yml declares h1..h3 (root over the rig's
// key and known_hosts, as test/hosts/support.ts's hostProject does), services/NAME.yml each a busybox httpd on
// one host (`host: hI`, the next host in turn) with `port:` (sv's implied tcp check, from here to the host's
// address). Also what the phases measure beside sv: the bare baseline (bare.sh), and ssh over sv's own masters.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acceptsAt, describeFailure, isGone, pollUntil, run, type Ran } from "../proc.ts";
import { startWatch, tail, type Watch } from "../tools/sv.ts";
import { countStates, parseJsonAfter, type ServiceSpec, type Session, type Supervisor } from "../tools/tool.ts";
import type { HostRig, TestHost } from "./rig.ts";

/** Where the services serve from on every host, and where the bare baseline's logs go. */
const WWW = "/root/www";
const BARE_LOGS = "/root/bare";
/** sv's default connect_timeout (5s) is what sv.yml gets (omitted); the bare baseline's ssh the same. */
const CONNECT_TIMEOUT_S = 5;
const BARE_SCRIPT = join(import.meta.dir, "bare.sh");

/** The service's command: busybox httpd in the foreground, as the issue asks. */
export const httpd = (port: number) => `exec busybox httpd -f -p ${port} -h ${WWW}`;

export interface HostService extends ServiceSpec {
  host: TestHost;
}

export interface BareResult {
  /** From the spawn of bare.sh until it exited (every port accepting), as the harness saw it. */
  exitMs: number;
  /** Per target, in order: that ssh was back, the port accepted (ms from the script's own start). */
  hosts: { address: string; port: number; sshMs: number; acceptMs: number }[];
}

export interface HostSession extends Session {
  rig: HostRig;
  bin: string;
  project: string;
  services: HostService[];
  /** sv watch's log (JSON lines, --log-format json). */
  watchLog: string;
  /** sv watch's extra arguments (e.g. --interval 1s). */
  watchArgs: string[];
  /** The ssh options sv passes for `host` (transport.ts's options()), its ControlPath the project's master socket. */
  sshOptions(host: TestHost): string[];
  /** The master socket sv uses for `host`. */
  socketOf(host: TestHost): string;
  /** Is a master listening for `host` (its socket file exists)? */
  hasMaster(host: TestHost): boolean;
  /** `ssh -O exit` every master of the project and wait until each is gone: the next sv connects afresh. */
  dropMasters(): Promise<void>;
  /** The bare baseline for `targets` (fresh ssh each, in parallel, until each port accepts); their processes are left running. */
  bare(targets: { host: TestHost; port: number }[], timeoutMs: number): Promise<BareResult>;
  /** SIGKILL what the bare baseline started on `port` (by the pid the host's ps shows for exactly that command) and wait until the port refuses. */
  killBare(host: TestHost, port: number, timeoutMs: number): Promise<void>;
  /** Run `sv status --json` and return each service's row. */
  rows(): Promise<Map<string, { state: string; pid: number | null; host?: string; restarts: number }>>;
}

/** The pids on `host` whose whole command line is `args` (its own ps, in its pid namespace). */
export function pidsRunning(host: TestHost, args: string): number[] {
  return host
    .run("ps -eo pid=,args=")
    .out.split("\n")
    .map((l) => l.trim())
    .filter((l) => l.replace(/^\d+\s+/, "") === args)
    .map((l) => Number(l.split(/\s+/)[0]));
}

export async function openHostSession(bin: string, rig: HostRig, dir: string, project: string, specs: ServiceSpec[], timeoutMs: number, watchArgs: string[] = []): Promise<HostSession> {
  mkdirSync(join(dir, "services"), { recursive: true });
  for (const h of rig.hosts) {
    const r = h.run(`mkdir -p ${WWW} ${BARE_LOGS} && echo ${h.name} > ${WWW}/index.html`);
    if (r.code !== 0) throw new Error(`preparing ${h.name}: ${r.err.trim()}`);
  }
  const hosts = Object.fromEntries(rig.hosts.map((h) => [h.name, { address: h.address, user: "root", key_file: rig.keyFile, known_hosts: rig.knownHosts }]));
  writeFileSync(join(dir, "sv.yml"), `${JSON.stringify({ name: project, hosts })}\n`);
  const services: HostService[] = specs.map((s, i) => ({ ...s, host: rig.hosts[i % rig.hosts.length]! }));
  for (const s of services) writeFileSync(join(dir, "services", `${s.name}.yml`), `${JSON.stringify({ host: s.host.name, command: httpd(s.port), port: s.port })}\n`);
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  const stateDir = join(dir, ".sv");
  const watchLog = join(dir, "watch.log");
  let watch: Watch | undefined;
  const stopWatch = async () => watch?.stop();
  /** Masters seen (ssh -O check's pid): killed by pid at close if -O exit did not end them. */
  const masterPids = new Set<number>();
  /** What the bare baseline started and has not killed yet. */
  const bareLeft = new Map<string, { host: TestHost; port: number }>();

  const socketOf = (h: TestHost) => {
    // transport.ts's socketOf(): under the state dir, or in /tmp when that path is too long for a unix socket
    const path = join(stateDir, "run", "ssh", `${h.name}.sock`);
    if (path.length <= 100) return path;
    const tag = createHash("sha256").update(stateDir).digest("hex").slice(0, 12);
    return join(`/tmp/sv-ssh-${process.getuid?.() ?? 0}`, `${tag}-${h.name}.sock`);
  };
  const sshOptions = (h: TestHost) => [
    "-F", "/dev/null",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${rig.knownHosts}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=2",
    "-o", `ControlPath=${socketOf(h)}`,
    "-p", String(h.port),
    "-i", rig.keyFile,
    "-o", "IdentitiesOnly=yes",
    "-l", "root",
  ];

  const statusRows = async () => {
    const r = await run([bin, "status", "--json"], { cwd: dir, env, timeoutMs });
    if (r.code !== 0) throw new Error(describeFailure(r));
    const rows = (parseJsonAfter(r.stdout, "{") as { services: { name: string; state: string; pid: number | null; host?: string; restarts: number }[] }).services;
    return new Map(rows.map((x) => [x.name, x]));
  };

  const session: HostSession = {
    dir,
    env,
    rig,
    bin,
    project,
    services,
    watchLog,
    watchArgs,
    up: [bin, "up"],
    down: [bin, "down"],
    status: [bin, "status", "--json"],
    crashGroup: false,
    sshOptions,
    socketOf,
    hasMaster: (h) => existsSync(socketOf(h)),
    checkStatus(r: Ran) {
      if (r.code !== 0) return `sv status exited with code ${r.code}: ${r.stderr.trim().slice(0, 200)}`;
      const rows = (parseJsonAfter(r.stdout, "{") as { services: { name: string; state: string; host?: string }[] }).services;
      const running = rows.filter((x) => x.state === "running" && x.host).length;
      return rows.length === services.length && running === services.length ? null : `sv status shows ${running} of ${services.length} services running on their hosts (${countStates(rows.map((x) => x.state))})`;
    },
    async diagnose() {
      const watching = watch ? `; sv watch ${watch.exited ? `exited (${watch.proc.exitCode})` : "running"}, last lines: ${tail(watchLog, 3)}` : "";
      const r = await run([bin, "status", "--json"], { cwd: dir, env, timeoutMs });
      if (r.code !== 0) return `sv status: ${r.stderr.trim().slice(0, 300)}${watching}`;
      const rows = (parseJsonAfter(r.stdout, "{") as { services: { state: string; last_error: string | null }[] }).services;
      const error = rows.find((x) => x.last_error)?.last_error;
      return `sv status: ${countStates(rows.map((x) => x.state))}${error ? `; e.g. ${error}` : ""}${watching}`;
    },
    async supervise(): Promise<Supervisor> {
      if (!watch || watch.exited) watch = await startWatch(bin, dir, env, watchLog, timeoutMs, ["--log-format", "json", ...watchArgs]);
      return { pid: watch.proc.pid, what: `sv watch ${watchArgs.join(" ")} (pid ${watch.proc.pid})`.replace("  ", " ") };
    },
    unsupervise: stopWatch,
    async dropMasters() {
      await Promise.all(
        rig.hosts.map(async (h) => {
          const socket = socketOf(h);
          if (!existsSync(socket)) return;
          const check = await run(["ssh", ...sshOptions(h), "-O", "check", h.address], { timeoutMs: 5_000 });
          // a dead master's socket (nothing listens): sv removes it too before it starts one
          if (check.code !== 0) return rmSync(socket, { force: true });
          const pid = Number(/pid=(\d+)/.exec(check.stderr)?.[1]);
          if (pid > 1) masterPids.add(pid);
          await run(["ssh", ...sshOptions(h), "-O", "exit", h.address], { timeoutMs: 5_000 });
          const deadline = performance.now() + 5_000;
          while (existsSync(socket) || (pid > 1 && !isGone(pid))) {
            if (performance.now() > deadline) throw new Error(`the master for ${h.name} (pid ${pid || "?"}) did not go after ssh -O exit`);
            await Bun.sleep(2);
          }
        }),
      );
    },
    async bare(targets, budgetMs) {
      const args = targets.flatMap((t) => [t.host.address, String(t.port), httpd(t.port), `${BARE_LOGS}/${t.port}.log`]);
      for (const t of targets) bareLeft.set(`${t.host.name}:${t.port}`, t);
      const r = await run(["bash", BARE_SCRIPT, rig.keyFile, rig.knownHosts, String(CONNECT_TIMEOUT_S), String(Math.max(1, Math.floor(budgetMs / 1000) - 1)), ...args], { timeoutMs: budgetMs });
      if (r.code !== 0) throw new Error(describeFailure(r));
      const lines = r.stdout.trim().split("\n").map((l) => l.split(" "));
      const hosts = targets.map((t) => {
        const l = lines.find((x) => x[0] === t.host.address && Number(x[1]) === t.port);
        if (!l) throw new Error(`bare.sh printed nothing for ${t.host.address}:${t.port}: ${r.stdout.trim()}`);
        return { address: t.host.address, port: t.port, sshMs: Number(l[2]) / 1000, acceptMs: Number(l[3]) / 1000 };
      });
      return { exitMs: r.ms, hosts };
    },
    async killBare(host, port, budgetMs) {
      const pids = pidsRunning(host, `busybox httpd -f -p ${port} -h ${WWW}`);
      if (pids.length) host.run(`kill -KILL ${pids.join(" ")}`);
      await pollUntil(async () => !(await acceptsAt(host.address, port)), performance.now() + budgetMs, `${host.name}:${port} (bare) still accepts after kill -KILL ${pids.join(" ")}`);
      bareLeft.delete(`${host.name}:${port}`);
    },
    rows: statusRows,
    async close() {
      try {
        await stopWatch();
        const down = await run([bin, "down"], { cwd: dir, env, timeoutMs });
        if (down.code !== 0) throw new Error(`sv down at close: ${describeFailure(down)}`);
      } finally {
        for (const t of bareLeft.values()) await session.killBare(t.host, t.port, 5_000).catch(() => {});
        await session.dropMasters().catch(() => {});
        // a master that did not go: by the pid its own -O check named
        for (const pid of masterPids) if (!isGone(pid)) process.kill(pid, "SIGKILL");
      }
    },
  };
  return session;
}
