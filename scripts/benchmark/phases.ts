// The measurements. A phase = setup (untimed, once per tool), measure (one timed run), teardown (untimed).
// To add one, write a Phase and list it in PHASES.
import type { Settings } from "./options.ts";
import {
  accepts,
  clockTicksPerSecond,
  cpuTicksOf,
  describeFailure,
  isGone,
  memoryOf,
  pgidOf,
  processesOf,
  run,
  runOk,
  type RunOptions,
  servicePids,
  start,
  type Started,
  ussOf,
  waitAccepting,
  waitAllRefused,
  waitGone,
  waitRefused,
} from "./proc.ts";
import type { OpenOptions, ServiceSpec, Session, Supervisor } from "./tools/tool.ts";

/** What a phase gets for one tool: a fresh session with its own directory, ports and program copy. */
export interface PhaseCtx {
  tool: string;
  session: Session;
  services: ServiceSpec[];
  ports: number[];
  /** Ports beyond one per service (Phase.sparePorts), e.g. for a baseline measured beside the tool. */
  spare: number[];
  /** This session's copy of the service program; its processes are found by this path in /proc. */
  program: string;
  settings: Settings;
  /** How many measure calls came before this one (warmup included). */
  iteration: number;
  /** ms left for one command or wait: the per-command timeout, capped by what is left of the phase (throws at 0). */
  budget(): number;
  /** A compiled Bun hello world (`bun build --compile`), run beside each status command as its floor; null if it could not be built. */
  hello: string | null;
  /** Progress lines for stderr. */
  log(line: string): void;
  /** Figures a phase's profile finds, copied to the row (Row.stats). */
  stats: Record<string, number | string>;
  /** Set by the supervised phases' setup. */
  supervisor?: Supervisor;
  /** Service index -> performance.now() of its last crash (supervised phases). */
  crashedAt?: Map<number, number>;
}

export interface Sample {
  /** The measured value, in the phase's unit. */
  value: number;
  /** When the command itself exited, from the same start (for up/down, where it can differ). */
  exitMs?: number;
  /** down: when every service pid was gone from /proc, from the same start (the value is every port refusing). */
  goneMs?: number;
  /** status: the compiled Bun hello world, run right before this status command with the same harness. */
  helloMs?: number;
  /** rss: private memory (USS) of the supervisor's processes, MiB. */
  ussMiB?: number;
  /** crash: when the port was first seen refusing connections, from the kill. */
  closedMs?: number;
  /** rss: the peak RSS so far (VmHWM), MiB. */
  peakMiB?: number;
  /** Containers: when the port first answered an HTTP GET, from the same start. */
  servingMs?: number;
  /** Containers: the raw API baseline measured in the same run (create+start -> port accepts). */
  rawMs?: number;
  /** Where the time went, in ms from the same start (e.g. noticed, created, started), for the log and the JSON. */
  parts?: Record<string, number>;
}

/** Rows derived from a phase's samples: a baseline measured beside the tool in the same runs, shown as its own row. */
export interface Companion {
  tool: string;
  pick(s: Sample): number | undefined;
}

/** A target relative to a baseline in the same samples: median(value) / median(baseline) <= max. */
export interface RatioTarget {
  max: number;
  /** What the baseline is, for the report (e.g. "raw"). */
  of: string;
  baseline(s: Sample): number | undefined;
}

export interface Phase {
  id: string;
  /** What the number means, for the report. */
  describe: string;
  /** The unit of every sample (default ms). */
  unit?: string;
  /** sv's goal from the issue, in the phase's unit (a median at most this). */
  target?: number;
  /** The numbers the issue quotes for the peers on this machine, for comparison. */
  reference?: Record<string, number | string>;
  services(s: Settings): number;
  runs(s: Settings): number;
  warmup(s: Settings): number;
  /** Only these tools (default: all). */
  tools?: string[];
  /** Shown in the PHASE column (default: id), e.g. container-start/podman. */
  label?: string;
  /** The container engine this phase runs on (container phases only). */
  engine?: string;
  /** Why the phase cannot run here (then it is skipped, with this note), or null. */
  unavailable?(): string | null;
  /** Ports to allocate beyond one per service (ctx.spare). */
  sparePorts?: number;
  /** Service names (default s001, s002, …). */
  serviceName?(index: number): string;
  /** Opens the session itself instead of the tool's open() (container phases: an sv project of image: services). */
  session?(dir: string, services: ServiceSpec[], settings: Settings, log: (line: string) => void): Promise<Session>;
  /** A target relative to a baseline measured in the same runs (checked besides `target`). */
  ratioTarget?: RatioTarget;
  /** Extra rows derived from each sample (a baseline measured in the same runs). */
  companions?: Companion[];
  /** Untimed runs after the timed ones (e.g. through a recording proxy): lines for the report. */
  profile?(ctx: PhaseCtx): Promise<string[]>;
  /** Config changes for this phase (e.g. sv's restart_delay); only for the tools listed in `tools`. */
  open?: OpenOptions;
  setup?(ctx: PhaseCtx): Promise<void>;
  /** One timed run; must leave the session as setup left it. */
  measure(ctx: PhaseCtx): Promise<Sample>;
  teardown?(ctx: PhaseCtx): Promise<void>;
}

export function commandOptions(ctx: PhaseCtx): RunOptions {
  return { cwd: ctx.session.dir, env: ctx.session.env, timeoutMs: ctx.budget() };
}

/** A reason to stop waiting: the command already exited with a failure. */
export function failedEarly(started: Started): () => string | null {
  return () => (started.result && started.result.code !== 0 ? describeFailure(started.result) : null);
}

/** Run the up command; time until every port accepts, and until the command exits. */
async function bringUp(ctx: PhaseCtx): Promise<{ portsMs: number; exitMs: number }> {
  const started = start(ctx.session.up, commandOptions(ctx));
  const at = await waitAccepting(ctx.ports, started.t0 + ctx.budget(), failedEarly(started));
  const r = await started.done;
  if (r.code !== 0) throw new Error(describeFailure(r));
  return { portsMs: at - started.t0, exitMs: r.ms };
}

/** Run a stop command; time until every port refuses, until every service process is gone, and until the command exits. */
async function bringDown(ctx: PhaseCtx, argv = ctx.session.down): Promise<{ refusedMs: number; goneMs: number; exitMs: number; pids: number }> {
  const pids = processesOf(ctx.program);
  const started = start(argv, commandOptions(ctx));
  const deadline = started.t0 + ctx.budget();
  const [refusedAt, goneAt] = await Promise.all([waitAllRefused(ctx.ports, deadline, failedEarly(started)), waitGone(pids, deadline, failedEarly(started))]);
  const r = await started.done;
  if (r.code !== 0) throw new Error(describeFailure(r));
  return { refusedMs: refusedAt - started.t0, goneMs: goneAt - started.t0, exitMs: r.ms, pids: pids.length };
}

/** Untimed: back to "defined, nothing running", and check that nothing is. */
async function settle(ctx: PhaseCtx): Promise<void> {
  await bringDown(ctx, ctx.session.reset ?? ctx.session.down);
  assertNothingRunning(ctx, "after stopping");
}

function assertNothingRunning(ctx: PhaseCtx, when: string): void {
  const left = processesOf(ctx.program);
  if (left.length > 0) throw new Error(`${left.length} service processes are running ${when} (pids ${left.slice(0, 5).join(", ")}…)`);
}

export const upPhase: Phase = {
  id: "up",
  describe: "invoke the start command -> every port accepts a TCP connection",
  target: 150,
  reference: { supervisord: 1262, pm2: 642 },
  services: (s) => s.n,
  runs: (s) => s.runs,
  warmup: (s) => s.warmup,
  async measure(ctx) {
    assertNothingRunning(ctx, "before up");
    const up = await bringUp(ctx);
    await settle(ctx);
    await Bun.sleep(ctx.session.restartPauseMs ?? 0);
    return { value: up.portsMs, exitMs: up.exitMs };
  },
};

export const upNoPortPhase: Phase = {
  id: "up-noport",
  describe: "the same for sv with no `port:` in the service files (no tcp health check: up returns once each process runs)",
  services: (s) => s.n,
  runs: (s) => s.runs,
  warmup: (s) => s.warmup,
  tools: ["sv"],
  open: { declarePort: false },
  measure: upPhase.measure,
};

export const statusPhase: Phase = {
  id: "status",
  describe: "one status command, start to exit, with every service running (each right after a run of a compiled Bun hello world, its floor)",
  target: 25,
  reference: { supervisord: 137, pm2: 140 },
  services: (s) => s.statusN,
  runs: (s) => s.statusRuns,
  warmup: (s) => s.statusWarmup,
  async setup(ctx) {
    await bringUp(ctx);
  },
  async measure(ctx) {
    const hello = ctx.hello ? await runOk([ctx.hello], commandOptions(ctx)) : undefined;
    const r = await run(ctx.session.status, commandOptions(ctx));
    const wrong = ctx.session.checkStatus(r);
    if (wrong) throw new Error(r.code === 0 ? wrong : describeFailure(r));
    return { value: r.ms, helloMs: hello?.ms };
  },
  async teardown(ctx) {
    await settle(ctx);
  },
};

export const downPhase: Phase = {
  id: "down",
  describe: "invoke the stop command -> every port refuses a TCP connection (GONE: every service pid gone from /proc, zombies count as gone)",
  target: 150,
  reference: { supervisord: 1191, pm2: 3121 },
  services: (s) => s.n,
  runs: (s) => s.runs,
  warmup: (s) => s.warmup,
  async measure(ctx) {
    assertNothingRunning(ctx, "before up");
    await bringUp(ctx);
    const running = processesOf(ctx.program).length;
    if (running !== ctx.services.length) throw new Error(`${running} service processes running after up, expected ${ctx.services.length}`);
    const down = await bringDown(ctx);
    if (ctx.session.reset) await settle(ctx);
    assertNothingRunning(ctx, "after down");
    return { value: down.refusedMs, goneMs: down.goneMs, exitMs: down.exitMs };
  },
};

// Supervision: N services running, the tool's supervisor watching them (sv watch / supervisord / PM2 God daemon /
// runsvdir and its runsv's).

/** After a restart, before the next kill: longer than supervisord's startsecs and PM2's min_uptime (1 s each). */
export const CRASH_SETTLE_MS = 1500;
/** Before killing the same service again: sv forgets past failures after 10 s up (and a full pass, every 2 s). */
export const SAME_SERVICE_GAP_MS = 13_000;
/** Supervised phases let the supervisor run this long before the first measurement. */
export const SUPERVISED_WARM_MS = 3000;
/** rss: the first sample after this long running; every later one this long after a crash/restart cycle. */
const RSS_FIRST_MS = 5000;
const RSS_AFTER_CRASH_MS = 2000;

/** Bring every service up with the tool's start command, then start (sv) or find (peers) its supervisor. */
async function supervise(ctx: PhaseCtx): Promise<void> {
  await bringUp(ctx);
  ctx.supervisor = await ctx.session.supervise();
  ctx.crashedAt = new Map();
  ctx.log(`${ctx.tool}: ${ctx.services.length} services up, supervised by ${ctx.supervisor.what}`);
  await Bun.sleep(SUPERVISED_WARM_MS);
  assertSupervisorAlive(ctx);
}

function supervisorGone(ctx: PhaseCtx): string | null {
  return ctx.supervisor && isGone(ctx.supervisor.pid) ? `the supervisor, ${ctx.supervisor.what}, exited` : null;
}

function assertSupervisorAlive(ctx: PhaseCtx): void {
  const why = supervisorGone(ctx);
  if (why) throw new Error(why);
}

/** The processes that make up the supervisor right now (runit: runsvdir + every runsv). */
function supervisorPids(ctx: PhaseCtx): number[] {
  return ctx.supervisor!.pids?.() ?? [ctx.supervisor!.pid];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Back to "defined, nothing running": sv watch stopped first, so only the stop command acts. */
async function unsupervise(ctx: PhaseCtx): Promise<void> {
  await ctx.session.unsupervise?.();
  await settle(ctx);
}

/**
 * SIGKILL one service (the next in turn; sv: its whole process group), then time until its port accepts
 * connections again, having first seen it refuse one: a killed process can be gone from /proc while its
 * listening socket still accepts. The service is then served by a new pid, or this throws.
 */
async function crashOnce(ctx: PhaseCtx): Promise<Sample> {
  assertSupervisorAlive(ctx);
  const index = ctx.iteration % ctx.services.length;
  const svc = ctx.services[index]!;
  const last = ctx.crashedAt!.get(index);
  if (last !== undefined) await Bun.sleep(Math.max(0, last + SAME_SERVICE_GAP_MS - performance.now()));
  const pids = servicePids(ctx.program, svc.port);
  if (pids.length !== 1) throw new Error(`${svc.name}: expected one process serving port ${svc.port} before the kill, found ${pids.length}`);
  const pid = pids[0]!;
  if (!(await accepts(svc.port))) throw new Error(`${svc.name}: port ${svc.port} does not accept connections before the kill`);
  // sv: the service runs in a group of its own, led by sv's exit relay (or by the service itself).
  const pgid = ctx.session.crashGroup ? pgidOf(pid) : null;
  if (ctx.session.crashGroup && (pgid === null || pgid <= 1 || pgid === pgidOf(process.pid))) {
    throw new Error(`${svc.name}: pid ${pid} is not in a process group of its own (pgid ${pgid})`);
  }
  const t0 = performance.now();
  process.kill(pgid !== null ? -pgid : pid, "SIGKILL");
  const closedAt = await waitRefused(svc.port, t0 + ctx.budget(), () => supervisorGone(ctx));
  const openAt = await waitAccepting([svc.port], t0 + ctx.budget(), () => supervisorGone(ctx));
  ctx.crashedAt!.set(index, performance.now());
  const now = servicePids(ctx.program, svc.port);
  if (now.length !== 1 || now[0] === pid) throw new Error(`${svc.name}: after the restart, port ${svc.port} is served by pids [${now.join(", ")}], killed ${pid}`);
  return { value: openAt - t0, closedMs: closedAt - t0 };
}

function crashPhase(id: string, describe: string, extra: Partial<Phase> = {}): Phase {
  return {
    id,
    describe,
    target: 100,
    services: (s) => s.n,
    runs: (s) => s.crashRuns,
    warmup: (s) => s.warmup,
    setup: supervise,
    async measure(ctx) {
      const sample = await crashOnce(ctx);
      await Bun.sleep(CRASH_SETTLE_MS);
      return sample;
    },
    teardown: unsupervise,
    ...extra,
  };
}

export const crashDefaultPhase = crashPhase(
  "crash",
  "SIGKILL one supervised service (sv: its process group) -> its port refuses, then accepts again; each tool's default restart delay (sv 100 ms, PM2 0 ms, supervisord none: next main-loop turn, up to 1 s; runit: runsv restarts at once, or after 1 s if ./run ran under 1 s)",
  { reference: { supervisord: 1011, pm2: 11 } },
);

export const crashNoDelayPhase = crashPhase("crash0", "the same for sv with restart_delay: 0s in every service file", {
  tools: ["sv"],
  open: { restartDelay: "0s" },
});

export const rssPhase: Phase = {
  id: "rss",
  unit: "MiB",
  describe: `VmRSS of the supervisor (sv watch / supervisord / PM2 God daemon / runsvdir + runsv's summed; services not counted; USS too: Private_Clean+Private_Dirty of smaps_rollup): after ${RSS_FIRST_MS / 1000} s, then ${RSS_AFTER_CRASH_MS / 1000} s after each crash/restart of one service`,
  target: 60,
  reference: { pm2: "61-99" },
  services: (s) => s.n,
  runs: (s) => s.watchRuns,
  warmup: () => 0,
  async setup(ctx) {
    await supervise(ctx);
    await Bun.sleep(Math.max(0, RSS_FIRST_MS - SUPERVISED_WARM_MS));
  },
  async measure(ctx) {
    if (ctx.iteration > 0) {
      await crashOnce(ctx);
      await Bun.sleep(RSS_AFTER_CRASH_MS);
    }
    assertSupervisorAlive(ctx);
    const pids = supervisorPids(ctx);
    const m = pids.map(memoryOf);
    return { value: sum(m.map((x) => x.rssKiB)) / 1024, peakMiB: sum(m.map((x) => x.peakKiB)) / 1024, ussMiB: sum(pids.map(ussOf)) / 1024 };
  },
  teardown: unsupervise,
};

export const idlePhase: Phase = {
  id: "idle",
  unit: "% CPU",
  describe: "CPU time of the supervisor while nothing happens (utime+stime from /proc/PID/stat; runit: runsvdir + runsv's), as % of one core, over --idle-seconds",
  services: (s) => s.n,
  runs: (s) => s.watchRuns,
  warmup: () => 0,
  setup: supervise,
  async measure(ctx) {
    const pids = supervisorPids(ctx);
    const a = sum(pids.map(cpuTicksOf));
    const t0 = performance.now();
    await Bun.sleep(ctx.settings.idleSeconds * 1000);
    assertSupervisorAlive(ctx);
    const b = sum(pids.map(cpuTicksOf));
    const seconds = (performance.now() - t0) / 1000;
    return { value: (100 * (b - a)) / clockTicksPerSecond() / seconds };
  },
  teardown: unsupervise,
};

export const PHASES: Phase[] = [upPhase, upNoPortPhase, statusPhase, downPhase, crashDefaultPhase, crashNoDelayPhase, rssPhase, idlePhase];
