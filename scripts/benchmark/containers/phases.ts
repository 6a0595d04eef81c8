// The container phases (issue 9's container targets), one set per engine (podman, docker), each against the
// raw API calls of a minimal script (raw.ts) measured in the same runs:
//   container-start   `sv up web` of a one-container project until the host port accepts, vs raw create+start
//   container-status  `sv status --json` with N containers running; its engine requests counted by a proxy
//   container-heal    a container KILLed through the API under `sv watch` until its port accepts again,
//                     vs a raw create+start in the same runs (and vs sv's own start)
//   container-heal0   the same with restart_delay: 0s
// Each also has profile runs (untimed, sv's engine traffic through the recording proxy): which requests sv
// makes, when, and how long each takes, so the overhead over the raw calls can be split.
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { coveredMs, fmtMs as ms, median, medianOver } from "../report.ts";
import { type Phase, type PhaseCtx, type Sample, CRASH_SETTLE_MS, SAME_SERVICE_GAP_MS, SUPERVISED_WARM_MS, commandOptions, failedEarly } from "../phases.ts";
import { describeFailure, pollUntil, run, runOk, start, type Started } from "../proc.ts";
import { type EngineKind, engineFor, engineUnavailable } from "./engine.ts";
import { type Recorded, describeRequest } from "./proxy.ts";
import { type ContainerSession, RAW_LABEL, openContainerSession, watchEvents } from "./session.ts";
import { acceptsNow, servesNow } from "./accepts.ts";

export const CONTAINER_PHASE_IDS = ["container-start", "container-status", "container-heal", "container-heal0"];

const RAW_SCRIPT = join(import.meta.dir, "raw.ts");

// ---------------------------------------------------------------------------------------------------------
// probes: the host port, with a bound on each connect (a DNAT'd port whose container is gone may drop SYNs)

const refused = (port: number) => async () => !(await acceptsNow(port));

/**
 * An engine failing to set up a published port because its iptables chains are gone: another dockerd starting
 * on this host flushes and recreates the DOCKER chains (the test engines of a concurrent test run do).
 */
const ENGINE_FLAKE = /iptables failed|No chain\/target\/match|driver failed programming external connectivity/;

/** Run `fn`; when it fails with ENGINE_FLAKE, clean up and try again (at most twice), counted in the row's stats. */
async function retryFlake<T>(ctx: PhaseCtx, what: string, fn: () => Promise<T>, cleanup: () => Promise<void>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const msg = (e as Error).message;
      if (attempt >= 3 || !ENGINE_FLAKE.test(msg)) throw e;
      ctx.log(`${what}: the engine could not set up its port (${msg.slice(0, 160)}); retrying (${attempt} of 2)`);
      ctx.stats.retries = Number(ctx.stats.retries ?? 0) + 1;
      await cleanup().catch(() => {});
      await Bun.sleep(500);
    }
  }
}

/** How long a port must keep refusing to count as released: podman tears a container's DNAT rules and port reservation down in steps, so a port can refuse, then accept once more. */
const RELEASED_MS = 100;

/** performance.now() when `port` has refused every connect for RELEASED_MS. */
async function waitReleased(port: number, deadline: number, what: string): Promise<number> {
  for (;;) {
    const at = await pollUntil(refused(port), deadline, what);
    let stable = true;
    while (performance.now() - at < RELEASED_MS) {
      await Bun.sleep(5);
      if (await acceptsNow(port)) {
        stable = false;
        break;
      }
    }
    if (stable) return at;
  }
}

// ---------------------------------------------------------------------------------------------------------
// the two ways of starting a container: sv up, and the raw calls

const sessionOf = (ctx: PhaseCtx) => ctx.session as ContainerSession;

/** `sv up NAMES` (the session's), timed from the spawn until each port accepts, then until each serves HTTP, then the exit. */
async function svUp(ctx: PhaseCtx, ports = ctx.ports): Promise<{ acceptMs: number; servingMs: number; exitMs: number; t0: number }> {
  const s = sessionOf(ctx);
  const started = start(s.up, commandOptions(ctx));
  const deadline = started.t0 + ctx.budget();
  let acceptAt = 0;
  for (const port of ports) acceptAt = await pollUntil(() => acceptsNow(port), deadline, `port ${port} did not accept a connection`, failedEarly(started));
  let servingAt = 0;
  for (const port of ports) servingAt = await pollUntil(() => servesNow(port), deadline, `port ${port} accepted but answered no HTTP GET`, failedEarly(started));
  const r = await started.done;
  if (r.code !== 0) throw new Error(describeFailure(r));
  return { acceptMs: acceptAt - started.t0, servingMs: servingAt - started.t0, exitMs: r.ms, t0: started.t0 };
}

/** `sv down NAMES` (untimed), until each port refuses and no container of the project is left running. */
async function svDown(ctx: PhaseCtx, argv = sessionOf(ctx).down): Promise<void> {
  const s = sessionOf(ctx);
  await runOk(argv, commandOptions(ctx));
  const deadline = performance.now() + ctx.budget();
  for (const port of ctx.ports) await waitReleased(port, deadline, `port ${port} still accepts after sv down`);
  const running = [...(await s.containers())].filter(([, state]) => state === "running");
  if (running.length) throw new Error(`still running after sv down: ${running.map(([n]) => n).join(", ")}`);
}

interface RawResult {
  id: string;
  createdMs: number;
  startedMs: number;
  acceptMs: number;
  servingMs: number;
  /** The whole script, Bun's own start included. */
  processMs: number;
}

/** The raw clients running now (killed by killRawClients on an interrupt). */
const rawClients = new Set<Started>();

export function killRawClients(): void {
  for (const c of rawClients) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {}
  }
  rawClients.clear();
}

/** raw.ts: create + start `<project>-raw` from `bodyFile` on `port`; then (untimed) remove it and wait until the port refuses. */
function rawStart(ctx: PhaseCtx, port: number, bodyFile: string): Promise<RawResult> {
  return retryFlake(ctx, "raw start", () => rawStartOnce(ctx, port, bodyFile), async () => {});
}

async function rawStartOnce(ctx: PhaseCtx, port: number, bodyFile: string): Promise<RawResult> {
  const s = sessionOf(ctx);
  const name = `${s.project}-raw`;
  const started = start([process.execPath, RAW_SCRIPT, "start", s.engine.socket, name, String(port), bodyFile], { timeoutMs: ctx.budget() });
  rawClients.add(started);
  try {
    const r = await started.done;
    if (r.code !== 0) throw new Error(describeFailure(r));
    const o = JSON.parse(r.stdout.trim().split("\n").pop()!) as Omit<RawResult, "processMs">;
    return { ...o, processMs: r.ms };
  } finally {
    rawClients.delete(started);
    await s.engine.api("DELETE", `/containers/${name}?force=1`).catch((e: Error) => (/404|no such container/i.test(e.message) ? null : Promise.reject(e)));
    await waitReleased(port, performance.now() + ctx.budget(), `port ${port} still accepts after removing ${name}`);
  }
}

/** raw.ts list: the one list call of `sv status` (the project's label filter), timed inside a minimal script. */
async function rawList(ctx: PhaseCtx): Promise<number> {
  const s = sessionOf(ctx);
  const started = start([process.execPath, RAW_SCRIPT, "list", s.engine.socket, `dev.sv.project=${s.project}`], { timeoutMs: ctx.budget() });
  rawClients.add(started);
  try {
    const r = await started.done;
    if (r.code !== 0) throw new Error(describeFailure(r));
    const o = JSON.parse(r.stdout.trim().split("\n").pop()!) as { listMs: number; count: number };
    if (o.count !== ctx.services.length) throw new Error(`raw list found ${o.count} containers, expected ${ctx.services.length}`);
    return o.listMs;
  } finally {
    rawClients.delete(started);
  }
}

/** sv's create body (seen by the proxy) as the raw baseline's: its own name, host port and labels, the same everything else. */
function rawBody(ctx: PhaseCtx, requests: Recorded[], port: number): string {
  const s = sessionOf(ctx);
  const create = requests.find((r) => r.method === "POST" && /\/containers\/create(\?|$)/.test(r.path));
  if (!create) throw new Error(`no POST /containers/create seen from sv up (saw ${requests.map(describeRequest).join(", ") || "nothing"})`);
  const body = JSON.parse(create.body) as {
    Labels?: Record<string, string>;
    HostConfig?: { PortBindings?: Record<string, { HostIp: string; HostPort: string }[]> };
    NetworkingConfig?: { EndpointsConfig?: Record<string, { Aliases?: string[] }> };
  };
  body.Labels = { [RAW_LABEL]: s.project };
  const bindings = body.HostConfig?.PortBindings ?? {};
  for (const k of Object.keys(bindings)) bindings[k] = bindings[k]!.map((b) => ({ ...b, HostPort: String(port) }));
  for (const ep of Object.values(body.NetworkingConfig?.EndpointsConfig ?? {})) ep.Aliases = ["raw"];
  const file = join(s.dir, "raw-body.json");
  writeFileSync(file, JSON.stringify(body));
  return file;
}

// ---------------------------------------------------------------------------------------------------------
// profiles: what the proxy saw, as a timeline

const ID = /[0-9a-f]{64}/g;
/** A request with ids as {id} and the query decoded (long ones cut), for comparing runs and printing. */
function shortRequest(r: Recorded): string {
  const text = describeRequest(r).replace(ID, "{id}");
  return text.length > 110 ? `${text.slice(0, 107)}...` : text;
}

/** Total time with at least one request in flight (requests can overlap). */
const inFlight = (reqs: Recorded[]) => coveredMs(reqs.map((r) => [r.sentAt, r.endAt ?? r.headAt ?? r.sentAt] as const));

interface Traced {
  t0: number;
  /** Finite requests (the /events stream is left out: it stays open). */
  reqs: Recorded[];
  marks: Record<string, number>;
}

/**
 * Median timeline of runs traced through the proxy: each request's start (from t0) and duration, when every
 * run made the same requests (else the last run's), then the split: before the first request, in requests, between them.
 */
function renderTimeline(runs: Traced[], what: string): { lines: string[]; stats: Record<string, number | string> } {
  const lines: string[] = [];
  const sig = (t: Traced) => t.reqs.map(shortRequest).join("\n");
  const same = runs.every((t) => sig(t) === sig(runs[0]!));
  const med = (f: (t: Traced) => number | undefined) => medianOver(runs, f);
  const counts = runs.map((t) => t.reqs.length);
  const n = runs.length;
  lines.push(`${what}: ${same ? `the same ${counts[0]} requests in each of ${n} runs` : `requests per run ${counts.join(", ")} (runs differ; the last shown)`}; times in ms from ${n > 1 ? "the start, medians" : "the start"}:`);
  const shown = same ? runs[0]! : runs[n - 1]!;
  shown.reqs.forEach((r, i) => {
    const at = same ? med((t) => t.reqs[i]!.sentAt - t.t0) : r.sentAt - shown.t0;
    const dur = same ? med((t) => (t.reqs[i]!.endAt ?? t.reqs[i]!.headAt ?? NaN) - t.reqs[i]!.sentAt) : (r.endAt ?? r.headAt ?? NaN) - r.sentAt;
    lines.push(`    +${ms(at).padStart(6)}  ${ms(dur).padStart(6)}  ${shortRequest(r)}${r.status && r.status >= 300 ? ` -> ${r.status}` : ""}`);
  });
  const first = med((t) => (t.reqs[0] ? t.reqs[0].sentAt - t.t0 : undefined));
  const engine = med((t) => inFlight(t.reqs));
  const lastEnd = (t: Traced) => Math.max(...t.reqs.map((r) => r.endAt ?? r.headAt ?? r.sentAt));
  const between = med((t) => (t.reqs.length ? lastEnd(t) - t.reqs[0]!.sentAt - inFlight(t.reqs) : undefined));
  const marks = Object.keys(shown.marks).map((k) => `${k} +${ms(med((t) => t.marks[k]))}`);
  lines.push(`  split: before the first request ${ms(first)}, in requests ${ms(engine)}, sv's own time between requests ${ms(between)}, last answer at +${ms(med((t) => (t.reqs.length ? lastEnd(t) - t.t0 : undefined)))}${marks.length ? `; ${marks.join(", ")}` : ""}`);
  const countText = new Set(counts).size === 1 ? String(counts[0]) : `${Math.min(...counts)}-${Math.max(...counts)}`;
  return { lines, stats: { requests: countText, firstRequestMs: first, engineMs: engine, betweenMs: between } };
}

/** Median wall time of `argv` over `n` runs, with the session's cwd and env. */
async function medianRun(ctx: PhaseCtx, argv: string[], n: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push((await runOk(argv, commandOptions(ctx))).ms);
  return median(xs);
}

/** Requests the proxy saw, without the /events stream (sv watch keeps it open). */
const finite = (reqs: Recorded[]) => reqs.filter((r) => !/\/events(\?|$)/.test(r.path));

// ---------------------------------------------------------------------------------------------------------
// the phases

function base(kind: EngineKind, id: string, describe: string): Pick<Phase, "id" | "label" | "engine" | "describe" | "tools" | "unavailable" | "session"> {
  return {
    id,
    label: `${id}/${kind}`,
    engine: kind,
    describe,
    tools: ["sv"],
    unavailable: () => engineUnavailable(kind),
    async session(dir, services, settings, log) {
      const engine = await engineFor(kind, log);
      const project = `svb-${id.replace(/^container-/, "")}`;
      return openContainerSession(settings.sv, engine, dir, project, services, settings.timeoutMs, id === "container-heal0" ? { restartDelay: "0s" } : {});
    },
  };
}

/** Where the raw baseline's body file is, per session (written in setup). */
const bodies = new WeakMap<object, string>();

/**
 * Setup's `sv up` through the recording proxy: sv's create body becomes the raw baseline's (in `bodies`, on the
 * first spare port); `then` runs while still routed through the proxy.
 */
async function upForRawBody(ctx: PhaseCtx, then?: (up: Awaited<ReturnType<typeof svUp>>) => Promise<void>): Promise<void> {
  const s = sessionOf(ctx);
  s.route(true);
  s.proxy.reset();
  try {
    const up = await svUp(ctx);
    bodies.set(s, rawBody(ctx, s.proxy.requests, ctx.spare[0]!));
    await then?.(up);
  } finally {
    s.route(false);
  }
}

function startPhase(kind: EngineKind): Phase {
  return {
    ...base(kind, "container-start", "`sv up web` of a one-container project (busybox httpd, 127.0.0.1:PORT->80) -> its host port accepts, then (untimed) `sv down web`; api: raw.ts's POST /containers/create + /start with sv's own create body, from before the create to the first accept, alternating with sv (HTTP answered: see the container table; dockerd's proxy accepts before the container listens)"),
    ratioTarget: { max: 1.2, of: "api", baseline: (s) => s.rawMs },
    companions: [{ tool: "api", pick: (s) => s.rawMs }],
    services: () => 1,
    sparePorts: 1,
    serviceName: () => "web",
    runs: (s) => s.runs,
    warmup: (s) => s.warmup,
    async setup(ctx) {
      // The first up makes the project network (kept by `sv down web`).
      await upForRawBody(ctx, async (up) => {
        ctx.log(`first up (creates the project network) ${up.acceptMs.toFixed(0)} ms; requests: ${sessionOf(ctx).proxy.requests.map(shortRequest).join(", ")}`);
        await svDown(ctx);
      });
    },
    async measure(ctx): Promise<Sample> {
      const s = sessionOf(ctx);
      const body = bodies.get(s)!;
      let raw: RawResult | undefined;
      let sv: Awaited<ReturnType<typeof svUp>> | undefined;
      // alternate which goes first, so neither always follows the other's teardown
      for (const which of ctx.iteration % 2 === 0 ? ["raw", "sv"] : ["sv", "raw"]) {
        if (which === "raw") raw = await rawStart(ctx, ctx.spare[0]!, body);
        else {
          if ((await s.containers()).size > 0) throw new Error(`containers left before sv up: ${[...(await s.containers()).keys()].join(", ")}`);
          sv = await retryFlake(ctx, "sv up web", () => svUp(ctx), () => svDown(ctx));
          await svDown(ctx);
        }
      }
      return {
        value: sv!.acceptMs,
        exitMs: sv!.exitMs,
        servingMs: sv!.servingMs,
        rawMs: raw!.acceptMs,
        parts: { rawCreated: raw!.createdMs, rawStarted: raw!.startedMs, rawServing: raw!.servingMs, rawProcess: raw!.processMs },
      };
    },
    async profile(ctx) {
      const s = sessionOf(ctx);
      const runs: Traced[] = [];
      const downs: Traced[] = [];
      s.route(true);
      try {
        for (let i = 0; i < ctx.settings.profileRuns; i++) {
          s.proxy.reset();
          const up = await svUp(ctx);
          runs.push({ t0: up.t0, reqs: [...s.proxy.requests], marks: { "port accepts": up.acceptMs, "HTTP answered": up.servingMs, "sv exits": up.exitMs } });
          s.proxy.reset();
          const t0 = performance.now();
          await svDown(ctx);
          downs.push({ t0, reqs: [...s.proxy.requests], marks: {} });
        }
        s.proxy.reset();
        const listMs = await medianRun(ctx, [s.bin, "list"], 10);
        const listReqs = s.proxy.requests.length;
        const versionMs = await medianRun(ctx, [s.bin, "--version"], 10);
        const helloMs = ctx.hello ? await medianRun(ctx, [ctx.hello], 10) : NaN;
        const timeline = renderTimeline(runs, "sv up web, through the recording proxy");
        const down = renderTimeline(downs, "sv down web (untimed in the runs above)");
        Object.assign(ctx.stats, timeline.stats, { versionMs, listMs });
        return [
          ...timeline.lines,
          `  process start and config: \`sv --version\` ${ms(versionMs)} ms, \`sv list\` (loads the config) ${ms(listMs)} ms (${listReqs} engine requests in 10 runs), compiled Bun hello world ${ms(helloMs)} ms (medians of 10)`,
          ...down.lines,
        ];
      } finally {
        s.route(false);
      }
    },
  };
}

function statusPhase(kind: EngineKind): Phase {
  return {
    ...base(kind, "container-status", "`sv status --json` with N containers running (each right after a compiled Bun hello world, its floor, and raw.ts's one list call with the project's label filter, the API row); the profile counts its engine requests through the proxy"),
    target: 30,
    companions: [{ tool: "api", pick: (s) => s.rawMs }],
    services: (s) => s.containersN,
    serviceName: (i) => `c${String(i + 1).padStart(2, "0")}`,
    runs: (s) => s.statusRuns,
    warmup: (s) => s.statusWarmup,
    async setup(ctx) {
      const up = await svUp(ctx);
      ctx.log(`${ctx.services.length} containers up in ${up.acceptMs.toFixed(0)} ms (sv up exited at ${up.exitMs.toFixed(0)} ms)`);
    },
    async measure(ctx) {
      const s = sessionOf(ctx);
      const hello = ctx.hello ? await runOk([ctx.hello], commandOptions(ctx)) : undefined;
      const listMs = await rawList(ctx);
      const r = await run(s.status, commandOptions(ctx));
      const wrong = s.checkStatus(r);
      if (wrong) throw new Error(r.code === 0 ? wrong : describeFailure(r));
      return { value: r.ms, helloMs: hello?.ms, rawMs: listMs };
    },
    async profile(ctx) {
      const s = sessionOf(ctx);
      const runs: Traced[] = [];
      s.route(true);
      try {
        for (let i = 0; i < Math.max(3, ctx.settings.profileRuns); i++) {
          s.proxy.reset();
          const started = start(s.status, commandOptions(ctx));
          const r = await started.done;
          const wrong = s.checkStatus(r);
          if (wrong) throw new Error(wrong);
          runs.push({ t0: started.t0, reqs: [...s.proxy.requests], marks: { "sv exits": r.ms } });
        }
      } finally {
        s.route(false);
      }
      const timeline = renderTimeline(runs, `sv status --json with ${ctx.services.length} running, through the recording proxy`);
      const versionMs = await medianRun(ctx, [s.bin, "--version"], 10);
      Object.assign(ctx.stats, timeline.stats, { versionMs });
      return [...timeline.lines, `  process start: \`sv --version\` ${ms(versionMs)} ms (median of 10)`];
    },
    async teardown(ctx) {
      await svDown(ctx, [sessionOf(ctx).bin, "down"]);
    },
  };
}

/** KILL one container through the API; time until its port refuses, accepts again, and serves HTTP again. */
async function healOnce(ctx: PhaseCtx, index: number): Promise<Sample> {
  const s = sessionOf(ctx);
  const svc = ctx.services[index]!;
  const name = `${s.project}-${svc.name}`;
  const watching = () => (ctx.supervisor && statSafe(`/proc/${ctx.supervisor.pid}`) ? null : "sv watch exited");
  if (watching()) throw new Error(watching()!);
  const inspect = () => s.engine.api("GET", `/containers/${name}/json`) as Promise<{ Id: string; State: { Running: boolean; StartedAt: string } }>;
  // Serving before the kill: a port whose DNAT rule another engine on the host flushed comes back when sv's
  // health check fails and it restarts the container; wait for that (noted), up to 30 s.
  const waitFrom = performance.now();
  while (!((await inspect()).State.Running && (await acceptsNow(svc.port)))) {
    if (performance.now() - waitFrom > 30_000) throw new Error(`${name}: not serving on port ${svc.port} before the kill (for 30 s)`);
    await Bun.sleep(100);
  }
  if (performance.now() - waitFrom > 100) {
    ctx.log(`${name}: waited ${((performance.now() - waitFrom) / 1000).toFixed(1)} s for it to serve before the kill`);
    ctx.stats.waitedBeforeKill = Number(ctx.stats.waitedBeforeKill ?? 0) + 1;
  }
  const before = await inspect();
  const logFrom = statSafe(s.watchLog)?.size ?? 0;
  const t0 = performance.now();
  const wallT0 = performance.timeOrigin + t0;
  // Watched from the kill on, not from its answer: podman answers a KILL only after its cleanup (~300 ms),
  // by when sv (with restart_delay: 0s) may have the port served again.
  let killCall = NaN;
  let killError: Error | null = null;
  const kill = s.engine.api("POST", `/containers/${before.Id}/kill?signal=KILL`).then(
    () => void (killCall = performance.now() - t0),
    (e: Error) => void (killError = e),
  );
  const deadline = t0 + ctx.budget();
  const closedAt = await pollUntil(refused(svc.port), deadline, `port ${svc.port} kept accepting after the kill`, () => watching() ?? (killError ? `the kill failed: ${killError.message}` : null));
  const openAt = await pollUntil(() => acceptsNow(svc.port), deadline, `port ${svc.port} did not accept again`, watching);
  const servingAt = await pollUntil(() => servesNow(svc.port), deadline, `port ${svc.port} accepted again but answered no HTTP GET`, watching);
  await kill;
  if (killError) throw killError;
  const after = await inspect();
  if (after.Id === before.Id && after.State.StartedAt === before.State.StartedAt) throw new Error(`${name} serves again but is the same container, not restarted`);
  const events = watchEvents(s.watchLog, logFrom).filter((e) => e.unit === svc.name && e.event === "transition");
  const noticed = events[0] ? events[0].ts - wallT0 : NaN;
  const running = events.find((e) => e.to === "running");
  return {
    value: openAt - t0,
    closedMs: closedAt - t0,
    servingMs: servingAt - t0,
    parts: { killCall, noticed, ...(running ? { running: running.ts - wallT0 } : {}), recreated: after.Id !== before.Id ? 1 : 0 },
  };
}

function statSafe(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Wait until the service at `index` was last killed long enough ago that sv's backoff is back at restart_delay. */
async function spacedKill(ctx: PhaseCtx, index: number): Promise<Sample> {
  const last = ctx.crashedAt!.get(index);
  if (last !== undefined) await Bun.sleep(Math.max(0, last + SAME_SERVICE_GAP_MS - performance.now()));
  const sample = await healOnce(ctx, index);
  ctx.crashedAt!.set(index, performance.now());
  return sample;
}

function healPhase(kind: EngineKind, id: "container-heal" | "container-heal0"): Phase {
  const zero = id === "container-heal0";
  return {
    ...base(
      kind,
      id,
      zero
        ? "the same with restart_delay: 0s in every service file"
        : "N containers under `sv watch` (sv's default restart_delay, 100 ms); POST /containers/{id}/kill?signal=KILL to one (the next in turn, each at most once every 13 s) -> its host port refuses, then accepts again; API: a raw create+start (raw.ts, sv's create body) on another port right before each kill",
    ),
    ratioTarget: { max: 1.5, of: "api", baseline: (s) => s.rawMs },
    companions: [{ tool: "api", pick: (s) => s.rawMs }],
    services: (s) => Math.max(1, Math.min(5, s.crashRuns)),
    sparePorts: 1,
    serviceName: (i) => `web${i + 1}`,
    runs: (s) => s.crashRuns,
    warmup: (s) => s.warmup,
    async setup(ctx) {
      const s = sessionOf(ctx);
      await upForRawBody(ctx);
      ctx.supervisor = await s.supervise();
      ctx.crashedAt = new Map();
      ctx.log(`${ctx.services.length} containers up, supervised by ${ctx.supervisor.what}`);
      await Bun.sleep(SUPERVISED_WARM_MS);
    },
    async measure(ctx) {
      const index = ctx.iteration % ctx.services.length;
      const last = ctx.crashedAt!.get(index);
      if (last !== undefined) await Bun.sleep(Math.max(0, last + SAME_SERVICE_GAP_MS - performance.now()));
      const raw = await rawStart(ctx, ctx.spare[0]!, bodies.get(sessionOf(ctx))!);
      const sample = await spacedKill(ctx, index);
      await Bun.sleep(CRASH_SETTLE_MS);
      return { ...sample, rawMs: raw.acceptMs, parts: { ...sample.parts, rawCreated: raw.createdMs, rawStarted: raw.startedMs, rawServing: raw.servingMs } };
    },
    async profile(ctx) {
      // sv watch again, its engine traffic through the proxy (its event stream included)
      const s = sessionOf(ctx);
      await s.unsupervise!();
      s.route(true);
      const runs: Traced[] = [];
      const dies: number[] = [];
      const afterDie: number[] = [];
      const firsts: string[] = [];
      try {
        ctx.supervisor = await s.supervise();
        await Bun.sleep(SUPERVISED_WARM_MS);
        for (let i = 0; i < ctx.settings.profileRuns; i++, ctx.iteration++) {
          const index = ctx.iteration % ctx.services.length;
          const last = ctx.crashedAt!.get(index);
          if (last !== undefined) await Bun.sleep(Math.max(0, last + SAME_SERVICE_GAP_MS - performance.now()));
          s.proxy.reset();
          const t0 = performance.now();
          const sample = await spacedKill(ctx, index);
          // The engine's events after the kill, as they reached sv: dockerd sends kill, die, stop; podman 4.3
          // (file events logger) no die at all, but init/cleanup, late. The first that says the container ended counts.
          const chunks = s.proxy.requests.filter((r) => /\/events(\?|$)/.test(r.path)).flatMap((r) => r.chunks).filter((c) => c.at >= t0);
          const statusOf = (text: string) => /"status":"([a-z_ ]+)"/.exec(text)?.[1] ?? "?";
          firsts.push(chunks.length ? chunks.slice(0, 4).map((c) => `${statusOf(c.text)} +${ms(c.at - t0)}`).join(" ") : "none");
          const die = chunks.find((c) => /^(die|died|cleanup|stop)$/.test(statusOf(c.text)));
          if (die) {
            dies.push(die.at - t0);
            afterDie.push(sample.value - (die.at - t0));
          }
          // the requests of this heal: from the kill until the port accepted again (the pass after it is not part of it)
          const reqs = finite(s.proxy.requests).filter((r) => r.sentAt <= t0 + sample.value);
          runs.push({ t0, reqs, marks: { "engine's end event": die ? die.at - t0 : NaN, "sv notices": sample.parts?.noticed ?? NaN, "port refuses": sample.closedMs!, "port accepts": sample.value, "HTTP answered": sample.servingMs! } });
          await Bun.sleep(CRASH_SETTLE_MS);
        }
      } finally {
        await s.unsupervise!();
        s.route(false);
      }
      const timeline = renderTimeline(runs, `sv watch healing a KILLed container, through the recording proxy (from the kill)`);
      Object.assign(ctx.stats, timeline.stats, dies.length ? { dieEventMs: median(dies), afterDieMs: median(afterDie) } : {});
      return [...timeline.lines, `  engine events on sv's /events stream after each kill (first 4): ${firsts.join("; ")}`];
    },
    async teardown(ctx) {
      await sessionOf(ctx).unsupervise!();
      await svDown(ctx, [sessionOf(ctx).bin, "down"]);
    },
  };
}

/** Every container phase for `kind`, in the order they run. */
export function containerPhases(kind: EngineKind): Phase[] {
  return [startPhase(kind), statusPhase(kind), healPhase(kind, "container-heal"), healPhase(kind, "container-heal0")];
}
