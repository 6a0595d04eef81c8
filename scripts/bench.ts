// scripts/bench: sv vs supervisord vs PM2 vs runit on a project of N tiny TCP services (up, status, down,
// crash-to-serving under supervision, supervisor memory and idle CPU); with --containers, sv's container
// backend on podman and dockerd against the raw Engine API calls; with --hosts, sv's ssh backend on 3 real sshd
// hosts against bare ssh. See --help.
// Each tool and phase gets its own temp dir, ports and copy of the service program; nothing is left running
// (container engines are stopped, with every container in them, after their last phase or on an interrupt; so
// is the rig of sshd hosts, with every process on it).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HELP, parseOptions, type Settings } from "./benchmark/options.ts";
import { CONTAINER_PHASE_IDS, containerPhases, killRawClients } from "./benchmark/containers/phases.ts";
import { engineNotes, stopEngine, stopEngines } from "./benchmark/containers/engine.ts";
import { buildHello } from "./benchmark/hello.ts";
import { HOST_PHASE_IDS, HOSTS_HELP, hostPhases, hostsHeadline, isHostPhase } from "./benchmark/hosts/phases.ts";
import { renderHostComparison } from "./benchmark/hosts/report.ts";
import { rigNotes, stopRig } from "./benchmark/hosts/rig.ts";
import { type Phase, type PhaseCtx, PHASES, type Sample } from "./benchmark/phases.ts";
import { accepts, cpuTimes, killPids, loadavg, processesOf, run } from "./benchmark/proc.ts";
import { prepareProgram, type ServiceProgram } from "./benchmark/program.ts";
import { median, renderComparison, renderContainerComparison, renderTable, type Row, verdict } from "./benchmark/report.ts";
import { pm2Tool } from "./benchmark/tools/pm2.ts";
import { runitTool } from "./benchmark/tools/runit.ts";
import { supervisordTool } from "./benchmark/tools/supervisord.ts";
import { svTool } from "./benchmark/tools/sv.ts";
import type { Session, Tool } from "./benchmark/tools/tool.ts";

const log = (msg: string) => console.error(`bench: ${msg}`);

/** What must be stopped if we are interrupted: open sessions, and every copy of the service program. */
const live = { sessions: new Set<Session>(), programs: new Set<string>() };

async function cleanUpEverything(): Promise<void> {
  killRawClients();
  for (const session of live.sessions) {
    try {
      await session.close();
    } catch (e) {
      log(`cleanup: ${(e as Error).message}`);
    }
  }
  live.sessions.clear();
  for (const program of live.programs) await killPids(processesOf(program)).catch(() => 0);
  await stopEngines(log);
  await stopRig(log);
}

/** Busy % of the whole machine over `ms`, before we start anything. */
async function idleCheck(ms: number): Promise<number> {
  const a = cpuTimes();
  await Bun.sleep(ms);
  const b = cpuTimes();
  return (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
}

/** What spawning a do-nothing command costs with the same harness (the floor under every status number). */
async function spawnOverheadMs(runs: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await run(["/bin/true"], { timeoutMs: 5000 })).ms);
  return median(ms);
}

/** The kernel's range for outgoing (client) ports, or null if unknown. */
function ephemeralPorts(): [number, number] | null {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    return lo && hi ? [lo, hi] : null;
  } catch {
    return null;
  }
}

async function firstPortInUse(ports: number[]): Promise<number | undefined> {
  const busy = await Promise.all(ports.map(accepts));
  return ports[busy.indexOf(true)];
}

/** One sample in words, for the progress log. */
function describeSample(phase: Phase, s: Sample): string {
  const extra = [
    s.exitMs !== undefined ? `command exited at ${s.exitMs.toFixed(1)} ms` : "",
    s.closedMs !== undefined ? `port refused at ${s.closedMs.toFixed(1)} ms` : "",
    s.goneMs !== undefined ? `every pid gone at ${s.goneMs.toFixed(1)} ms` : "",
    s.helloMs !== undefined ? `hello world ${s.helloMs.toFixed(1)} ms` : "",
    s.servingMs !== undefined ? `HTTP answered at ${s.servingMs.toFixed(1)} ms` : "",
    s.rawMs !== undefined ? `raw API ${s.rawMs.toFixed(1)} ms` : "",
    ...Object.entries(s.parts ?? {}).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(1)}`),
    s.ussMiB !== undefined ? `USS ${s.ussMiB.toFixed(1)} MiB` : "",
    s.peakMiB !== undefined ? `peak ${s.peakMiB.toFixed(1)} MiB` : "",
  ].filter(Boolean);
  return `${s.value.toFixed(phase.unit === "% CPU" ? 2 : 1)} ${phase.unit ?? "ms"}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

/** The ports a phase takes per tool: one per service, then its spare ones. */
const portsOf = (phase: Phase, settings: Settings) => phase.services(settings) + (phase.sparePorts ?? 0);

/** One phase for one tool: fresh session, setup, warmup, timed runs, profile, teardown, close; never throws. Its row, then its companions'. */
async function runPhase(phase: Phase, tool: Tool, settings: Settings, workspace: string, program: ServiceProgram, hello: string | null, allPorts: number[]): Promise<Row[]> {
  const name = phase.label ?? phase.id;
  const dir = join(workspace, `${tool.name}-${name.replace(/\//g, "-")}`);
  mkdirSync(dir, { recursive: true });
  const installed = program.install(dir);
  live.programs.add(installed);
  const ports = allPorts.slice(0, phase.services(settings));
  const spare = allPorts.slice(ports.length);
  const services = ports.map((port, i) => ({ name: phase.serviceName?.(i) ?? `s${String(i + 1).padStart(3, "0")}`, port, argv: program.argv(installed, port) }));
  const row: Row = { phase, tool: tool.name, services: services.length, samples: [], load: loadavg().split(" ")[0]!, busyPct: 0 };
  const cpu0 = cpuTimes();
  const deadline = performance.now() + settings.phaseTimeoutMs;
  const budget = () => {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`phase took longer than ${settings.phaseTimeoutMs / 1000} s (--phase-timeout)`);
    return Math.min(settings.timeoutMs, left);
  };
  const runs = phase.runs(settings);
  const warmup = phase.warmup(settings);
  let session: Session | undefined;
  try {
    const busy = await firstPortInUse(allPorts);
    if (busy !== undefined) throw new Error(`port ${busy} is already in use; choose another range with --port-base`);
    const phaseLog = (l: string) => log(`${name} ${l}`);
    session = phase.session ? await phase.session(dir, services, settings, phaseLog) : await tool.open(dir, services, settings.timeoutMs, phase.open);
    live.sessions.add(session);
    const ctx: PhaseCtx = { tool: tool.name, session, services, ports, spare, program: installed, settings, iteration: 0, budget, hello, log: phaseLog, stats: {} };
    row.stats = ctx.stats;
    await phase.setup?.(ctx);
    for (let i = 0; i < warmup; i++, ctx.iteration++) await phase.measure(ctx);
    for (let i = 0; i < runs; i++, ctx.iteration++) {
      const sample = await phase.measure(ctx);
      row.samples.push(sample);
      if (runs <= 20) log(`${name} ${tool.name} run ${i + 1}/${runs}: ${describeSample(phase, sample)}`);
    }
    if (phase.profile && settings.profileRuns > 0) {
      try {
        row.notes = await phase.profile(ctx);
        for (const l of row.notes) log(`${name} profile: ${l}`);
      } catch (e) {
        row.notes = [`profile failed: ${(e as Error).message}`];
        log(`${name} ${tool.name}: profile failed: ${(e as Error).message}`);
      }
    }
    await phase.teardown?.(ctx);
  } catch (e) {
    row.error = (e as Error).message;
    if (session) row.error += ` [${await session.diagnose().catch((d: Error) => `no diagnosis: ${d.message}`)}]`;
    log(`${name} ${tool.name}: FAILED: ${row.error}`);
  } finally {
    if (session) {
      try {
        await session.close();
      } catch (e) {
        log(`${name} ${tool.name}: closing failed: ${(e as Error).message}`);
      }
      live.sessions.delete(session);
    }
    const left = processesOf(installed);
    if (left.length > 0) {
      await killPids(left);
      log(`${name} ${tool.name}: ${left.length} service processes were still running after close; killed them by pid`);
    }
  }
  const cpu1 = cpuTimes();
  row.busyPct = (100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total);
  if (row.samples.length > 0) log(`${name} ${tool.name}: median ${median(row.samples.map((s) => s.value)).toFixed(2)} ${phase.unit ?? "ms"} over ${row.samples.length} runs`);
  const companions = (phase.companions ?? []).map(
    (c): Row => ({ ...row, tool: c.tool, error: undefined, notes: undefined, stats: undefined, samples: row.samples.flatMap((s) => (c.pick(s) === undefined ? [] : [{ value: c.pick(s)! }])) }),
  );
  return [row, ...companions];
}

async function main(argv: string[]): Promise<number> {
  let settings: Settings | null;
  try {
    // --hosts is ours (options.ts knows the host phases only as names --phases may list): every host phase.
    settings = parseOptions(
      argv.filter((a) => a !== "--hosts"),
      [...PHASES.map((p) => p.id), ...HOST_PHASE_IDS],
      CONTAINER_PHASE_IDS,
    );
    if (settings && argv.includes("--hosts")) settings.phases = [...new Set([...(settings.phases ?? []), ...HOST_PHASE_IDS])];
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\nrun scripts/bench --help`);
    return 2;
  }
  if (!settings) {
    console.log(`${HELP}${HOSTS_HELP}`);
    return 0;
  }
  const workspace = mkdtempSync(join(tmpdir(), "sv-bench-"));
  const notes: string[] = [];
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      log(`${signal}: stopping everything the benchmark started`);
      void cleanUpEverything().finally(() => {
        if (!settings!.keep) rmSync(workspace, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }

  try {
    const { program, notes: programNotes } = prepareProgram(settings.program, join(workspace, "bin"));
    notes.push(...programNotes);
    // The process phases by default; container phases (one set per engine, grouped by engine) and host phases when named.
    const candidates = [...PHASES, ...settings.engines.flatMap(containerPhases), ...hostPhases()].filter((p) =>
      settings.phases ? settings.phases.includes(p.id) : p.engine === undefined && !isHostPhase(p),
    );
    const phases: Phase[] = [];
    for (const p of candidates) {
      const why = p.unavailable?.();
      if (why) notes.push(`${p.label ?? p.id}: skipped: ${why}`);
      else phases.push(p);
    }
    // Prepare only the tools some phase runs (container phases are sv's alone: no runit download for them).
    const needed = phases.every((p) => p.tools) ? new Set(phases.flatMap((p) => p.tools!)) : null;
    const all: Tool[] = [svTool(settings.sv), supervisordTool(), pm2Tool(settings.pm2), runitTool(settings.runit)];
    const tools: Tool[] = [];
    const versions: string[] = [];
    for (const tool of all.filter((t) => settings.tools.includes(t.name) && (!needed || needed.has(t.name)))) {
      if (tool.prepare) notes.push(...(await tool.prepare()));
      const why = tool.unavailable();
      if (why) notes.push(`${tool.name}: skipped: ${why}`);
      else {
        tools.push(tool);
        versions.push(await tool.version());
      }
    }
    if (tools.length === 0) throw new Error(`no tool can run here: ${notes.join("; ")}`);
    if (phases.length === 0) throw new Error(`no phase can run here: ${notes.join("; ")}`);
    let hello: string | null = null;
    if (phases.some((p) => p.id === "status" || p.id === "host-status" || p.engine !== undefined)) {
      const built = await buildHello(join(workspace, "hello"));
      if ("error" in built) notes.push(`no hello-world floor for status: ${built.error}`);
      else hello = built.path;
    }

    const loadStart = loadavg();
    const idlePct = await idleCheck(1000);
    const overhead = await spawnOverheadMs(30);
    log(`load average ${loadStart}; machine CPU busy ${idlePct.toFixed(0)}% over 1 s before starting`);
    log(`service program: ${program.describe}`);
    for (const v of versions) log(`tool: ${v}`);
    for (const n of notes) log(n);

    const portsNeeded = phases.reduce((sum, p) => sum + portsOf(p, settings) * tools.length, 0);
    const ephemeral = ephemeralPorts();
    if (ephemeral && settings.portBase + portsNeeded > ephemeral[0] && settings.portBase <= ephemeral[1]) {
      notes.push(`ports ${settings.portBase}-${settings.portBase + portsNeeded - 1} overlap the ephemeral range ${ephemeral.join("-")}: a client socket may hold one, and a service then fails to bind`);
    }
    const rows: Row[] = [];
    let port = settings.portBase;
    for (const [i, phase] of phases.entries()) {
      for (const tool of tools) {
        if (phase.tools && !phase.tools.includes(tool.name)) continue;
        const n = portsOf(phase, settings);
        if (port + n > 65535) throw new Error(`ran out of ports above --port-base ${settings.portBase}`);
        const ports = Array.from({ length: n }, (_, i) => port + i);
        port += n;
        rows.push(...(await runPhase(phase, tool, settings, workspace, program, hello, ports)));
      }
      // An engine goes when its last phase is done, so it is not running (and costing) during the next engine's.
      if (phase.engine && !phases.slice(i + 1).some((p) => p.engine === phase.engine)) await stopEngine(phase.engine as "podman" | "docker", log);
      // The hosts likewise, after the last host phase.
      if (isHostPhase(phase) && !phases.slice(i + 1).some(isHostPhase)) await stopRig(log);
    }
    const loadEnd = loadavg();

    const out: string[] = [];
    out.push("");
    if (phases.some((p) => p.engine === undefined && !isHostPhase(p))) {
      out.push(
        `sv benchmark: up/down with ${settings.n} services (${settings.runs} runs + ${settings.warmup} warmup), status with ${settings.statusN} running (${settings.statusRuns} runs + ${settings.statusWarmup} warmup), ` +
          `crash with ${settings.n} supervised (${settings.crashRuns} kills + ${settings.warmup} warmup), rss/idle with ${settings.n} supervised (${settings.watchRuns} samples; idle over ${settings.idleSeconds} s each).`,
      );
    }
    const engines = [...new Set(phases.flatMap((p) => (p.engine ? [p.engine] : [])))];
    if (engines.length > 0) {
      out.push(
        `sv container benchmark on ${engines.join(", ")}: start of 1 container (${settings.runs} runs + ${settings.warmup} warmup, each beside a raw API start), status with ${settings.containersN} running (${settings.statusRuns} runs + ${settings.statusWarmup} warmup), ` +
          `heal under sv watch (${settings.crashRuns} kills + ${settings.warmup} warmup, each after a raw API start); ${settings.profileRuns} profile runs each through the recording proxy.`,
      );
    }
    if (phases.some(isHostPhase)) out.push(hostsHeadline(settings));
    out.push("");
    out.push(renderTable(rows));
    out.push("");
    const described = [...new Map(phases.map((p) => [p.id, p])).values()];
    const idWidth = Math.max(...described.map((p) => p.id.length));
    for (const p of described) out.push(`  ${p.id.padEnd(idWidth)}  ${p.describe}`);
    out.push("  CMD EXIT  median time until the command itself exited (same start)");
    out.push(`  TARGET    sv's goal from the issue (median, in UNIT${engines.length > 0 ? "; Nx api: sv's median over the api row's, measured in the same runs" : ""}); ISSUE: the peers' numbers quoted in the issue for this machine`);
    if (phases.some(isHostPhase)) out.push("  bare      scripts/benchmark/hosts/bare.sh (a fresh ssh per host starting the same command detached, then until its port accepts), in the same runs as sv's row above it; the host-status rows under sv's: its floors, run right before each status");
    if (engines.length > 0) out.push("  api       the raw Engine API calls of scripts/benchmark/containers/raw.ts (create + start, from before the create), in the same runs as sv's row above it");
    out.push("  LOAD1     1-minute load average when the row started; CPU: whole-machine busy % during the row (benchmark included)");
    out.push("");
    out.push(`service program: ${program.describe}`);
    for (const v of versions) out.push(`tool: ${v}`);
    for (const e of engineNotes()) out.push(`engine: ${e}`);
    for (const h of rigNotes()) out.push(`hosts: ${h}`);
    out.push(`load average: ${loadStart} at start, ${loadEnd} at end; CPU busy ${idlePct.toFixed(0)}% in the idle second before; ${navigator.hardwareConcurrency} CPUs`);
    out.push(`harness floor: spawning /bin/true the same way takes ${overhead.toFixed(1)} ms (median of 30)`);
    for (const n of notes) out.push(`note: ${n}`);
    const failed = rows.filter((r) => r.error);
    for (const r of failed) out.push(`FAILED ${r.phase.label ?? r.phase.id} ${r.tool}: ${r.error}`);
    const misses = rows.filter((r) => verdict(r) === "MISS").map((r) => r.phase.label ?? r.phase.id);
    out.push(misses.length ? `sv misses its target in: ${misses.join(", ")}` : rows.some((r) => verdict(r) === "ok") ? "sv meets every target it was measured against" : "");
    for (const r of rows.filter((r) => r.notes?.length)) {
      out.push("");
      out.push(`profile ${r.phase.label ?? r.phase.id} (${r.tool}):`);
      for (const l of r.notes!) out.push(`  ${l}`);
    }
    for (const table of [renderComparison(rows.filter((r) => !isHostPhase(r.phase))), renderContainerComparison(rows), renderHostComparison(rows)]) {
      if (!table) continue;
      out.push("");
      out.push(table);
    }
    console.log(out.join("\n"));

    if (settings.json) {
      const doc = {
        date: new Date().toISOString(),
        settings: { ...settings },
        program: program.describe,
        versions,
        load: { start: loadStart, end: loadEnd, idleBusyPct: idlePct },
        spawnOverheadMs: overhead,
        notes,
        engines: engineNotes(),
        rows: rows.map((r) => ({
          phase: r.phase.id,
          engine: r.phase.engine ?? null,
          tool: r.tool,
          services: r.services,
          unit: r.phase.unit ?? "ms",
          target: r.phase.target ?? null,
          ratioTarget: r.phase.ratioTarget ? { max: r.phase.ratioTarget.max, of: r.phase.ratioTarget.of } : null,
          verdict: verdict(r),
          samples: r.samples,
          stats: r.stats ?? null,
          notes: r.notes ?? [],
          error: r.error ?? null,
          load1: r.load,
          busyPct: r.busyPct,
        })),
      };
      writeFileSync(settings.json, `${JSON.stringify(doc, null, 2)}\n`);
    }
    return failed.length > 0 ? 1 : 0;
  } catch (e) {
    log((e as Error).message);
    return 1;
  } finally {
    await cleanUpEverything();
    if (settings.keep) log(`kept ${workspace}`);
    else rmSync(workspace, { recursive: true, force: true });
  }
}

process.exit(await main(Bun.argv.slice(2)));
