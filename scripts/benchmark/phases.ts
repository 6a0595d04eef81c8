// The measurements. A phase = setup (untimed, once per tool), measure (one timed run), teardown (untimed).
// To add one (crash-to-serving under `sv watch`, watch RSS …), write a Phase and list it in PHASES.
import type { Settings } from "./options.ts";
import { describeFailure, processesOf, run, type RunOptions, start, type Started, waitAccepting, waitGone } from "./proc.ts";
import type { ServiceSpec, Session } from "./tools/tool.ts";

/** What a phase gets for one tool: a fresh session with its own directory, ports and program copy. */
export interface PhaseCtx {
  tool: string;
  session: Session;
  services: ServiceSpec[];
  ports: number[];
  /** This session's copy of the service program; its processes are found by this path in /proc. */
  program: string;
  /** ms left for one command or wait: the per-command timeout, capped by what is left of the phase (throws at 0). */
  budget(): number;
}

export interface Sample {
  /** The measured interval. */
  ms: number;
  /** When the command itself exited, from the same start (for up/down, where it can differ). */
  exitMs?: number;
}

export interface Phase {
  id: string;
  /** What the number means, for the report. */
  describe: string;
  targetMs?: number;
  /** The numbers the issue quotes for the peers on this machine (ms), for comparison. */
  reference?: Record<string, number>;
  services(s: Settings): number;
  runs(s: Settings): number;
  warmup(s: Settings): number;
  /** Only these tools (default: all). */
  tools?: string[];
  setup?(ctx: PhaseCtx): Promise<void>;
  /** One timed run; must leave the session as setup left it. */
  measure(ctx: PhaseCtx): Promise<Sample>;
  teardown?(ctx: PhaseCtx): Promise<void>;
}

function commandOptions(ctx: PhaseCtx): RunOptions {
  return { cwd: ctx.session.dir, env: ctx.session.env, timeoutMs: ctx.budget() };
}

/** A reason to stop waiting: the command already exited with a failure. */
function failedEarly(started: Started): () => string | null {
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

/** Run a stop command; time until every service process is gone, and until the command exits. */
async function bringDown(ctx: PhaseCtx, argv = ctx.session.down): Promise<{ goneMs: number; exitMs: number; pids: number }> {
  const pids = processesOf(ctx.program);
  const started = start(argv, commandOptions(ctx));
  const at = await waitGone(pids, started.t0 + ctx.budget(), failedEarly(started));
  const r = await started.done;
  if (r.code !== 0) throw new Error(describeFailure(r));
  return { goneMs: at - started.t0, exitMs: r.ms, pids: pids.length };
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
  targetMs: 150,
  reference: { supervisord: 1262, pm2: 642 },
  services: (s) => s.n,
  runs: (s) => s.runs,
  warmup: (s) => s.warmup,
  async measure(ctx) {
    assertNothingRunning(ctx, "before up");
    const up = await bringUp(ctx);
    await settle(ctx);
    return { ms: up.portsMs, exitMs: up.exitMs };
  },
};

export const statusPhase: Phase = {
  id: "status",
  describe: "one status command, start to exit, with every service running",
  targetMs: 25,
  reference: { supervisord: 137, pm2: 140 },
  services: (s) => s.statusN,
  runs: (s) => s.statusRuns,
  warmup: (s) => s.statusWarmup,
  async setup(ctx) {
    await bringUp(ctx);
  },
  async measure(ctx) {
    const r = await run(ctx.session.status, commandOptions(ctx));
    const wrong = ctx.session.checkStatus(r);
    if (wrong) throw new Error(r.code === 0 ? wrong : describeFailure(r));
    return { ms: r.ms };
  },
  async teardown(ctx) {
    await settle(ctx);
  },
};

export const downPhase: Phase = {
  id: "down",
  describe: "invoke the stop command -> every service pid is gone from /proc (zombies count as gone)",
  targetMs: 150,
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
    return { ms: down.goneMs, exitMs: down.exitMs };
  },
};

export const PHASES: Phase[] = [upPhase, statusPhase, downPhase];
