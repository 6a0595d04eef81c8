// The benchmark's view of the OS: run commands with a timeout, watch ports and pids at ~1 ms resolution.
import { readdirSync, readFileSync } from "node:fs";

export interface Ran {
  argv: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Wall time from just before the spawn to the exit. */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs: number;
}

/** A started command: `t0` is taken just before the spawn; `done` settles when it exits (or is killed at the timeout). */
export interface Started {
  t0: number;
  pid: number;
  done: Promise<Ran>;
  /** Set once it has exited. */
  result?: Ran;
}

export function start(argv: string[], opts: RunOptions): Started {
  const t0 = performance.now();
  const proc = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: opts.env ?? (process.env as Record<string, string>),
    stdio: ["ignore", "pipe", "pipe"],
    timeout: opts.timeoutMs,
    killSignal: "SIGKILL",
  });
  const started: Started = { t0, pid: proc.pid, done: undefined as unknown as Promise<Ran> };
  started.done = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([stdout, stderr, code]) => {
    const ms = performance.now() - t0;
    started.result = { argv, code: proc.signalCode ? null : code, stdout, stderr, timedOut: proc.signalCode === "SIGKILL" && ms >= opts.timeoutMs, ms };
    return started.result;
  });
  return started;
}

export function run(argv: string[], opts: RunOptions): Promise<Ran> {
  return start(argv, opts).done;
}

/** One line saying how a command failed, with the end of its output. */
export function describeFailure(r: Ran): string {
  const how = r.timedOut ? `timed out after ${Math.round(r.ms)} ms` : r.code === null ? "was killed" : `exited with code ${r.code}`;
  const tail = `${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-3).join(" | ");
  return `\`${r.argv.map((a) => a.split("/").pop()).join(" ")}\` ${how}${tail ? `: ${tail.slice(0, 400)}` : ""}`;
}

/** Run and require exit 0; throws with the failure described. */
export async function runOk(argv: string[], opts: RunOptions): Promise<Ran> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(describeFailure(r));
  return r;
}

/** Does 127.0.0.1:port accept a TCP connection right now? */
export async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Does address:port accept a TCP connection now? At most 250 ms per connect (a dropped SYN, as from an unplugged
 * host or a DNAT'd port whose container is gone, would otherwise hang the probe for the connect timeout).
 */
export async function acceptsAt(address: string, port: number): Promise<boolean> {
  let timer: Timer | undefined;
  const attempt = Bun.connect({ hostname: address, port, socket: { data() {}, error() {} } }).then(
    (s) => {
      s.end();
      return true;
    },
    () => false,
  );
  const ok = await Promise.race([attempt, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 250)))]);
  clearTimeout(timer);
  return ok;
}

/** performance.now() when `check` first passes, polling every ~1 ms; throws at `deadline` or when `abort` names a reason. */
export async function pollUntil(check: () => Promise<boolean>, deadline: number, what: string, abort?: () => string | null): Promise<number> {
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline) throw new Error(`${what} (gave up after the timeout)`);
    const why = abort?.();
    if (why) throw new Error(`${what}: ${why}`);
    await Bun.sleep(1);
  }
}

/**
 * Resolve with the time (performance.now) at which every pending item passed `check`, polling every ~1 ms.
 * Each tick tries only the first pending item; when it passes, all pending ones are swept in parallel.
 * So a tick costs one probe while nothing changes (a connect attempt or one /proc read), and the end is
 * seen within ~1 ms plus one sweep, without the poller itself loading the 2 CPUs it measures.
 */
async function waitAll<T>(
  items: T[],
  check: (item: T) => boolean | Promise<boolean>,
  deadline: number,
  what: (pending: T[]) => string,
  abort?: () => string | null,
): Promise<number> {
  let pending = [...items];
  while (pending.length > 0) {
    if (await check(pending[0]!)) {
      const ok = await Promise.all(pending.map(check));
      pending = pending.filter((_, i) => !ok[i]);
      if (pending.length === 0) break;
      continue;
    }
    if (performance.now() > deadline) throw new Error(`${what(pending)} (gave up after the timeout)`);
    const why = abort?.();
    if (why) throw new Error(`${what(pending)}: ${why}`);
    await Bun.sleep(1);
  }
  return performance.now();
}

/** Time at which every port accepts a connection; `abort` names a reason to stop waiting early. */
export function waitAccepting(ports: number[], deadline: number, abort?: () => string | null): Promise<number> {
  return waitAll(ports, accepts, deadline, (p) => `${p.length} of ${ports.length} ports did not accept a connection (first: ${p[0]})`, abort);
}

/** Time at which a connect to `port` is refused (the listening socket is closed). */
export function waitRefused(port: number, deadline: number, abort?: () => string | null): Promise<number> {
  return waitAll([port], async (p) => !(await accepts(p)), deadline, () => `port ${port} kept accepting connections`, abort);
}

/** Time at which every port refuses connections (`down`: each service closed its listening socket). */
export function waitAllRefused(ports: number[], deadline: number, abort?: () => string | null): Promise<number> {
  return waitAll(ports, async (p) => !(await accepts(p)), deadline, (p) => `${p.length} of ${ports.length} ports kept accepting connections (first: ${p[0]})`, abort);
}

/** Time at which every pid is gone from /proc (a zombie counts as gone: it no longer runs). */
export function waitGone(pids: number[], deadline: number, abort?: () => string | null): Promise<number> {
  return waitAll(pids, isGone, deadline, (p) => `${p.length} of ${pids.length} service processes still running (first: pid ${p[0]})`, abort);
}

/** /proc/PID/stat state letter, or null when there is no such process. */
function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return null;
  }
}

export function isGone(pid: number): boolean {
  const state = procState(pid);
  return state === null || state === "Z" || state === "X";
}

/** Live processes running `program` (as argv[0], or argv[1] after an interpreter), found by scanning /proc. */
export function processesOf(program: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
    } catch {
      continue;
    }
    if ((argv[0] === program || argv[1] === program) && !isGone(pid)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/** Live processes running `program` with `port` as their last argument: the service on that port. */
export function servicePids(program: string, port: number): number[] {
  return processesOf(program).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").filter(Boolean);
      return argv[argv.length - 1] === String(port);
    } catch {
      return false;
    }
  });
}

/** Live children of `pid` (by the ppid in /proc/CHILD/stat), found by scanning /proc. */
export function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const child = Number(entry);
    if (!Number.isInteger(child)) continue;
    try {
      const stat = readFileSync(`/proc/${child}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[1]) === pid && f[0] !== "Z" && f[0] !== "X") kids.push(child);
    } catch {}
  }
  return kids.sort((a, b) => a - b);
}

/** Process group of `pid` (/proc/PID/stat field 5), or null when it is gone. */
export function pgidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM (peak RSS) of `pid` in KiB, from /proc/PID/status. */
export function memoryOf(pid: number): { rssKiB: number; peakKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssKiB: field("VmRSS"), peakKiB: field("VmHWM") };
}

/** Private memory of `pid` in KiB (USS: Private_Clean + Private_Dirty from /proc/PID/smaps_rollup): what it alone costs. */
export function ussOf(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "latin1");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN);
  return field("Private_Clean") + field("Private_Dirty");
}

/** CPU time `pid` has used (user + system, all its threads), in clock ticks (/proc/PID/stat fields 14 and 15). */
export function cpuTicksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

let ticksPerSecond: number | undefined;
/** USER_HZ, the unit of /proc CPU times (getconf CLK_TCK; 100 on Linux in practice). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const r = Bun.spawnSync(["getconf", "CLK_TCK"], { stdio: ["ignore", "pipe", "ignore"] });
    const n = Number(r.stdout.toString().trim());
    ticksPerSecond = r.exitCode === 0 && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** SIGKILL processes we started (by pid) and wait for them to go; returns how many there were. */
export async function killPids(pids: number[], timeoutMs = 5000): Promise<number> {
  const live = pids.filter((p) => !isGone(p));
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  if (live.length > 0) await waitGone(live, performance.now() + timeoutMs);
  return live.length;
}

/** The 1/5/15-minute load averages, as /proc/loadavg prints them. */
export function loadavg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** Busy and total CPU jiffies of the whole machine (all cores), from /proc/stat. */
export function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}
