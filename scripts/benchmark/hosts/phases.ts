// The host phases (the ssh targets), on a rig of 3 real sshd hosts (rig.ts), each sv project's services
// busybox httpd on the hosts in turn, each against bare ssh measured in the same runs:
//   host-status     `sv status --json` of 10 services on 3 hosts with warm masters (<= 60 ms), beside its floors:
//                   `sv --version`, one `ssh -O check` and one `ssh HOST true` over the same master, three of those
//                   in parallel (one per host)
//   host-up         `sv up` of 3 services on 3 hosts with no master (cold) until every port accepts, vs bare.sh:
//                   one fresh ssh per host in parallel starting the same command detached, until its port accepts
//                   (<= 1.5x bare)
//   host-up-warm    the same with the masters sv left (after `sv down`), vs the same cold bare.sh
//   host-heal       `sv watch --interval 1s`; kill -KILL of a service's process on its host until its port accepts
//                   again, vs the interval plus a bare start (bare.sh of the same command on a spare port, right
//                   before each kill)
// Each has profile runs: the ssh runs of the command (sshtap.c as sv's `ssh`), when and for how long, and sv's
// own time before, between and after them.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { watchEvents } from "../containers/session.ts";
import { type Phase, type PhaseCtx, type Sample, CRASH_SETTLE_MS, SAME_SERVICE_GAP_MS, SUPERVISED_WARM_MS, commandOptions, failedEarly } from "../phases.ts";
import { acceptsAt, describeFailure, isGone, pollUntil, run, runOk, start } from "../proc.ts";
import { median } from "../report.ts";
import { hostsUnavailable, rigFor } from "./rig.ts";
import { type HostService, type HostSession, openHostSession } from "./session.ts";
import { type Tap, type Traced, buildTap, renderTapTimeline, tapRun } from "./tap.ts";

export const HOST_PHASE_IDS = ["host-status", "host-up", "host-up-warm", "host-heal"];

export const isHostPhase = (p: { id: string }) => HOST_PHASE_IDS.includes(p.id);

/** sv watch's full pass in host-heal (the "sv watch --interval 1s"). */
export const HEAL_INTERVAL_MS = 1000;

export const HOSTS_HELP = `
With --hosts (or host phases named in --phases), sv's ssh backend on 3 real sshd hosts (test/helpers/hosts.ts: each
in its own network, pid, mount and uts namespaces, reached by the system ssh; needs root, openssh-server, tini and
busybox-static), each service busybox httpd on a host, \`port:\` declared (sv's implied tcp check from here). The
"bare" rows are scripts/benchmark/hosts/bare.sh: for each host in parallel, one fresh ssh (no master, sv's options)
that runs \`setsid sh -c 'CMD' </dev/null >>LOG 2>&1 &\`, then a wait until the port accepts, in the same runs.
  host-status   \`sv status --json\` of 10 services on 3 hosts, masters warm (--status-runs)              (<= 60 ms)
                beside its floors: \`sv --version\`, \`ssh -O check\` and \`ssh HOST true\` over sv's master, 3 of those in parallel
  host-up       \`sv up\` of 3 services on 3 hosts, no master (each ssh -O exit'ed), until every port accepts (--runs)
                vs bare.sh, alternating, each after \`sv down\`                                          (<= 1.5x bare)
  host-up-warm  the same with the masters the last sv left                                              (<= 1.5x bare)
  host-heal     3 services under \`sv watch --interval 1s\`; kill -KILL of a service's pid on its host -> its port
                refuses, then accepts again (--crash-runs, each service at most once every 13 s, the kill at a
                different point of the watch's 1 s cycle each time) vs 1 s + a bare start right before (<= 1x)
Then --profile-runs untimed runs per phase with sshtap.c as sv's \`ssh\` (first on PATH): each ssh sv runs, when and
for how long, and sv's own time before, between and after them.
`;

/** One line under the results table saying what the host phases ran. */
export function hostsHeadline(s: { statusRuns: number; statusWarmup: number; runs: number; warmup: number; crashRuns: number; profileRuns: number }): string {
  return (
    `sv host benchmark on 3 sshd hosts: status of 10 services (${s.statusRuns} runs + ${s.statusWarmup} warmup), up of 3 services cold and warm (${s.runs} runs + ${s.warmup} warmup, each beside a bare.sh start), ` +
    `heal under sv watch --interval 1s (${s.crashRuns} kills + ${s.warmup} warmup, each after a bare start); ${s.profileRuns} profile runs each with sshtap as sv's ssh.`
  );
}

const sessionOf = (ctx: PhaseCtx) => ctx.session as HostSession;
const svcs = (ctx: PhaseCtx) => sessionOf(ctx).services;
const ms = (x: number) => (Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));

// ---------------------------------------------------------------------------------------------------------
// sv up / down, and the bare baseline

/** `sv up` (the session's), timed from the spawn until every service's port accepts on its host, then the exit. */
async function svUp(ctx: PhaseCtx, argv = sessionOf(ctx).up): Promise<{ acceptMs: number; exitMs: number }> {
  const started = start(argv, commandOptions(ctx));
  const deadline = started.t0 + ctx.budget();
  let at = 0;
  for (const s of svcs(ctx)) at = await pollUntil(() => acceptsAt(s.host.address, s.port), deadline, `${s.name}: ${s.host.name}:${s.port} did not accept a connection`, failedEarly(started));
  const r = await started.done;
  if (r.code !== 0) throw new Error(describeFailure(r));
  return { acceptMs: at - started.t0, exitMs: r.ms };
}

/** `sv down` (untimed), until every port refuses. */
async function svDown(ctx: PhaseCtx): Promise<void> {
  await runOk(sessionOf(ctx).down, commandOptions(ctx));
  const deadline = performance.now() + ctx.budget();
  for (const s of svcs(ctx)) await pollUntil(async () => !(await acceptsAt(s.host.address, s.port)), deadline, `${s.name}: ${s.host.name}:${s.port} still accepts after sv down`);
}

interface BareSample {
  /** From bare.sh's spawn until every port accepted (polled from here, as for sv). */
  acceptMs: number;
  exitMs: number;
  /** The slowest host's ssh, and its port accepting, as bare.sh timed them from its own start. */
  sshMs: number;
  inScriptMs: number;
}

/** bare.sh for `targets` (timed from its spawn until every port accepts, polled from here), then (untimed) their processes killed. */
async function bare(ctx: PhaseCtx, targets: { host: HostService["host"]; port: number }[]): Promise<BareSample> {
  const s = sessionOf(ctx);
  for (const t of targets) if (await acceptsAt(t.host.address, t.port)) throw new Error(`${t.host.name}:${t.port} accepts before the bare start`);
  const t0 = performance.now();
  const started = s.bare(targets, ctx.budget());
  let failed: string | null = null;
  started.catch((e: Error) => (failed = e.message));
  try {
    let at = 0;
    for (const t of targets) at = await pollUntil(() => acceptsAt(t.host.address, t.port), t0 + ctx.budget(), `bare: ${t.host.name}:${t.port} did not accept`, () => failed);
    const r = await started;
    return { acceptMs: at - t0, exitMs: r.exitMs, sshMs: Math.max(...r.hosts.map((h) => h.sshMs)), inScriptMs: Math.max(...r.hosts.map((h) => h.acceptMs)) };
  } finally {
    await started.catch(() => {});
    for (const t of targets) await s.killBare(t.host, t.port, ctx.budget());
  }
}

// ---------------------------------------------------------------------------------------------------------
// the profile: sv's ssh runs through the tap

const taps = new WeakMap<object, Tap | null>();

function tapOf(ctx: PhaseCtx): Tap | null {
  const s = sessionOf(ctx);
  if (!taps.has(s)) taps.set(s, buildTap(join(s.dir, "tap"), ctx.log));
  return taps.get(s)!;
}

async function medianRun(ctx: PhaseCtx, argv: string[], n: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push((await runOk(argv, commandOptions(ctx))).ms);
  return median(xs);
}

/** `sv up` through the tap, with the moment every port accepted as a mark. */
async function tappedUp(ctx: PhaseCtx, tap: Tap): Promise<Traced> {
  return tapRun(tap, sessionOf(ctx).up, commandOptions(ctx), async (t0, failed) => {
    let at = 0;
    for (const s of svcs(ctx)) at = await pollUntil(() => acceptsAt(s.host.address, s.port), t0 + ctx.budget(), `${s.host.name}:${s.port} did not accept`, failed);
    return { "every port accepts": at - t0 };
  });
}

// ---------------------------------------------------------------------------------------------------------
// the phases

function base(id: string, describe: string): Pick<Phase, "id" | "describe" | "tools" | "unavailable" | "session"> {
  return {
    id,
    describe,
    tools: ["sv"],
    unavailable: hostsUnavailable,
    async session(dir, services, settings, log) {
      const rig = await rigFor(log);
      return openHostSession(settings.sv, rig, dir, `svb-${id}`, services, settings.timeoutMs, id === "host-heal" ? ["--interval", `${HEAL_INTERVAL_MS / 1000}s`] : []);
    },
  };
}

/** One run of `argv` over the first host's master (its floor), in ms. */
async function overMaster(ctx: PhaseCtx, extra: string[], hostIndex = 0): Promise<number> {
  const s = sessionOf(ctx);
  const h = s.rig.hosts[hostIndex]!;
  return (await runOk(["ssh", ...s.sshOptions(h), ...extra, h.address, ...(extra.includes("-O") ? [] : ["true"])], commandOptions(ctx))).ms;
}

function statusPhase(): Phase {
  return {
    ...base(
      "host-status",
      "`sv status --json` of 10 services on 3 hosts (4/3/3), masters warm; before each, its floors: `sv --version` (the compiled binary's start), `ssh -O check` and `ssh HOST true` over sv's master for h1, and one such `true` per host in parallel",
    ),
    target: 60,
    companions: [
      { tool: "sv --version", pick: (s) => s.parts?.version },
      { tool: "hello world", pick: (s) => s.helloMs },
      { tool: "ssh -O check", pick: (s) => s.parts?.check },
      { tool: "ssh true (mux)", pick: (s) => s.parts?.mux },
      { tool: "3x ssh true ||", pick: (s) => s.parts?.mux3 },
    ],
    services: () => 10,
    serviceName: (i) => `s${String(i + 1).padStart(2, "0")}`,
    runs: (s) => s.statusRuns,
    warmup: (s) => s.statusWarmup,
    async setup(ctx) {
      const up = await svUp(ctx);
      ctx.log(`10 services up on 3 hosts in ${up.acceptMs.toFixed(0)} ms (sv up exited at ${up.exitMs.toFixed(0)} ms)`);
      const s = sessionOf(ctx);
      const cold = s.rig.hosts.filter((h) => !s.hasMaster(h));
      if (cold.length) throw new Error(`no master for ${cold.map((h) => h.name).join(", ")} after sv up`);
      // The config files were just written: within the config cache's 5 s "racy" window a cache hit still reads and
      // hashes them. Measure the steady state, as for a project edited more than a few seconds ago: wait it out and
      // let one status write the cache afresh.
      await Bun.sleep(5_500);
      rmSync(join(s.dir, ".sv", "cache"), { recursive: true, force: true });
      await run(s.status, commandOptions(ctx));
    },
    async measure(ctx): Promise<Sample> {
      const s = sessionOf(ctx);
      const version = (await runOk([s.bin, "--version"], commandOptions(ctx))).ms;
      const hello = ctx.hello ? (await runOk([ctx.hello], commandOptions(ctx))).ms : undefined;
      const check = await overMaster(ctx, ["-O", "check"]);
      const mux = await overMaster(ctx, ["-o", "ControlMaster=no"]);
      const t3 = performance.now();
      await Promise.all(s.rig.hosts.map((_, i) => overMaster(ctx, ["-o", "ControlMaster=no"], i)));
      const mux3 = performance.now() - t3;
      const r = await run(s.status, commandOptions(ctx));
      const wrong = s.checkStatus(r);
      if (wrong) throw new Error(r.code === 0 ? wrong : describeFailure(r));
      return { value: r.ms, helloMs: hello, parts: { version, check, mux, mux3 } };
    },
    async profile(ctx) {
      const s = sessionOf(ctx);
      const tap = tapOf(ctx);
      const listMs = await medianRun(ctx, [s.bin, "list"], 10);
      if (!tap) return [`no ssh timeline (see the log); \`sv list\` (loads the config, no ssh) ${ms(listMs)} ms`];
      const runs: Traced[] = [];
      for (let i = 0; i < Math.max(3, ctx.settings.profileRuns); i++) {
        const t = await tapRun(tap, s.status, commandOptions(ctx));
        runs.push(t);
      }
      const timeline = renderTapTimeline(runs, "sv status --json, its ssh runs through sshtap");
      Object.assign(ctx.stats, timeline.stats, { listMs });
      return [...timeline.lines, `  \`sv list\` (process start + config, no ssh) ${ms(listMs)} ms (median of 10)`];
    },
    async teardown(ctx) {
      await svDown(ctx);
    },
  };
}

function upPhase(id: "host-up" | "host-up-warm"): Phase {
  const warm = id === "host-up-warm";
  return {
    ...base(
      id,
      warm
        ? "the same with the masters sv left (each sv up right after sv down, whose masters it reuses)"
        : "`sv up` of 3 services, one per host, with no master (each -O exit'ed after sv down) -> every port accepts; bare: bare.sh (one fresh ssh per host in parallel, the same command started detached, then until its port accepts) on spare ports, alternating with sv",
    ),
    ratioTarget: { max: 1.5, of: "bare", baseline: (s) => s.parts?.bare },
    companions: [{ tool: "bare", pick: (s) => s.parts?.bare }],
    services: () => 3,
    sparePorts: 3,
    serviceName: (i) => `web${i + 1}`,
    runs: (s) => s.runs,
    warmup: (s) => s.warmup,
    async setup(ctx) {
      // the remote dirs made, and (warm) the masters up
      const up = await svUp(ctx);
      ctx.log(`first up ${up.acceptMs.toFixed(0)} ms`);
      await svDown(ctx);
    },
    async measure(ctx): Promise<Sample> {
      const s = sessionOf(ctx);
      const targets = s.services.map((svc, i) => ({ host: svc.host, port: ctx.spare[i]! }));
      let raw: BareSample | undefined;
      let sv: { acceptMs: number; exitMs: number } | undefined;
      let masters = 0;
      for (const which of ctx.iteration % 2 === 0 ? ["bare", "sv"] : ["sv", "bare"]) {
        if (which === "bare") raw = await bare(ctx, targets);
        else {
          if (warm) {
            const cold = s.rig.hosts.filter((h) => !s.hasMaster(h));
            if (cold.length) throw new Error(`no master left for ${cold.map((h) => h.name).join(", ")} before a warm sv up`);
          } else await s.dropMasters();
          masters = s.rig.hosts.filter((h) => s.hasMaster(h)).length;
          sv = await svUp(ctx);
          await svDown(ctx);
        }
      }
      return { value: sv!.acceptMs, exitMs: sv!.exitMs, parts: { bare: raw!.acceptMs, bareExit: raw!.exitMs, bareSsh: raw!.sshMs, bareInScript: raw!.inScriptMs, mastersBefore: masters } };
    },
    async profile(ctx) {
      const s = sessionOf(ctx);
      const tap = tapOf(ctx);
      if (!tap) return ["no ssh timeline (see the log)"];
      const runs: Traced[] = [];
      for (let i = 0; i < ctx.settings.profileRuns; i++) {
        if (!warm) await s.dropMasters();
        runs.push(await tappedUp(ctx, tap));
        await svDown(ctx);
      }
      const timeline = renderTapTimeline(runs, `sv up of 3 services on 3 hosts (${warm ? "warm masters" : "cold: no master"}), its ssh runs through sshtap`);
      Object.assign(ctx.stats, timeline.stats);
      return timeline.lines;
    },
  };
}

/** The kill's offset into the watch's cycle, in [0, 1): evenly spread over the runs (golden-ratio steps). */
const phaseOf = (iteration: number) => (iteration * 0.6180339887) % 1;

/** kill -KILL the service's process on its host; time until its port refuses, then accepts again (served by a new pid). */
async function healOnce(ctx: PhaseCtx, index: number): Promise<Sample> {
  const s = sessionOf(ctx);
  const svc = s.services[index]!;
  const watching = () => (ctx.supervisor && !isGone(ctx.supervisor.pid) ? null : "sv watch exited");
  const before = (await s.rows()).get(svc.name);
  if (!before || before.state !== "running" || !before.pid) throw new Error(`${svc.name} is not running before the kill (${before?.state ?? "no row"})`);
  if (!(await acceptsAt(svc.host.address, svc.port))) throw new Error(`${svc.name}: ${svc.host.name}:${svc.port} does not accept before the kill`);
  const logFrom = Bun.file(s.watchLog).size;
  const t0 = performance.now();
  const wallT0 = performance.timeOrigin + t0;
  const k = svc.host.run(`kill -KILL ${before.pid}`);
  const killCall = performance.now() - t0;
  if (k.code !== 0) throw new Error(`kill -KILL ${before.pid} on ${svc.host.name}: ${k.err.trim()}`);
  const deadline = t0 + ctx.budget();
  const closedAt = await pollUntil(async () => !(await acceptsAt(svc.host.address, svc.port)), deadline, `${svc.host.name}:${svc.port} kept accepting after the kill`, watching);
  const openAt = await pollUntil(() => acceptsAt(svc.host.address, svc.port), deadline, `${svc.host.name}:${svc.port} did not accept again`, watching);
  const after = (await s.rows()).get(svc.name);
  if (!after || after.pid === before.pid) throw new Error(`${svc.name} serves again but as pid ${after?.pid} (killed ${before.pid})`);
  const events = watchEvents(s.watchLog, logFrom).filter((e) => e.unit === svc.name && e.event === "transition");
  const noticed = events[0] ? events[0].ts - wallT0 : NaN;
  const running = events.find((e) => e.to === "running");
  return { value: openAt - t0, closedMs: closedAt - t0, parts: { killCall, noticed, ...(running ? { running: running.ts - wallT0 } : {}) } };
}

function healPhase(): Phase {
  return {
    ...base(
      "host-heal",
      `3 services (one per host) under \`sv watch --interval ${HEAL_INTERVAL_MS / 1000}s\` (restart_delay: sv's default); kill -KILL of one's pid on its host (the next in turn, each at most once every 13 s, at a different point of the watch's cycle each time) -> its port refuses, then accepts again; bare: bare.sh of the same command on a spare port of that host right before the kill; target: heal <= ${HEAL_INTERVAL_MS / 1000} s + that bare start`,
    ),
    ratioTarget: { max: 1, of: `${HEAL_INTERVAL_MS / 1000}s+bare`, baseline: (s) => (s.parts?.bare === undefined ? undefined : HEAL_INTERVAL_MS + s.parts.bare) },
    companions: [
      { tool: "bare", pick: (s) => s.parts?.bare },
      { tool: `${HEAL_INTERVAL_MS / 1000}s + bare`, pick: (s) => (s.parts?.bare === undefined ? undefined : HEAL_INTERVAL_MS + s.parts.bare) },
    ],
    services: () => 3,
    sparePorts: 1,
    serviceName: (i) => `web${i + 1}`,
    runs: (s) => s.crashRuns,
    warmup: (s) => s.warmup,
    async setup(ctx) {
      await svUp(ctx);
      ctx.supervisor = await ctx.session.supervise();
      ctx.crashedAt = new Map();
      ctx.log(`3 services up, supervised by ${ctx.supervisor.what}`);
      await Bun.sleep(SUPERVISED_WARM_MS);
    },
    async measure(ctx) {
      const index = ctx.iteration % svcs(ctx).length;
      const svc = svcs(ctx)[index]!;
      const last = ctx.crashedAt!.get(index);
      if (last !== undefined) await Bun.sleep(Math.max(0, last + SAME_SERVICE_GAP_MS - performance.now()));
      const raw = await bare(ctx, [{ host: svc.host, port: ctx.spare[0]! }]);
      await Bun.sleep(phaseOf(ctx.iteration) * HEAL_INTERVAL_MS);
      const sample = await healOnce(ctx, index);
      ctx.crashedAt!.set(index, performance.now());
      await Bun.sleep(CRASH_SETTLE_MS);
      return { ...sample, parts: { ...sample.parts, bare: raw.acceptMs, bareSsh: raw.sshMs } };
    },
    async profile(ctx) {
      // From the watch's own log: the kill -> sv notices -> sv says running -> the port accepts, per kill, and sv's up of one service cold/warm is in host-up.
      const s = sessionOf(ctx);
      const tap = tapOf(ctx);
      const lines: string[] = [];
      if (tap) {
        // one service's restart as sv watch does it, i.e. sv up of a stopped service over warm masters, through the tap
        const svc = s.services[0]!;
        await ctx.session.unsupervise?.();
        await runOk([s.bin, "down", svc.name], commandOptions(ctx));
        await pollUntil(async () => !(await acceptsAt(svc.host.address, svc.port)), performance.now() + ctx.budget(), `${svc.name} still accepts after sv down ${svc.name}`);
        const t = await tapRun(tap, [s.bin, "up", svc.name], commandOptions(ctx), async (t0, failed) => ({ "its port accepts": (await pollUntil(() => acceptsAt(svc.host.address, svc.port), t0 + ctx.budget(), `${svc.name} did not accept`, failed)) - t0 }));
        lines.push(...renderTapTimeline([t], `sv up ${svc.name} (one service on ${svc.host.name}, warm master: what a heal does after the watch notices), its ssh runs through sshtap`).lines);
        ctx.supervisor = await ctx.session.supervise();
      }
      return lines;
    },
    async teardown(ctx) {
      await ctx.session.unsupervise?.();
      await svDown(ctx);
    },
  };
}

/** Every host phase, in the order they run. */
export function hostPhases(): Phase[] {
  return [statusPhase(), upPhase("host-up"), upPhase("host-up-warm"), healPhase()];
}
