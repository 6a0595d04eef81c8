// scripts/bench: sv vs supervisord vs PM2 vs runit on a project of N tiny TCP services (up, status, down,
// crash-to-serving under supervision, supervisor memory and idle CPU). See --help.
// Each tool and phase gets its own temp dir, ports and copy of the service program; nothing is left running.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HELP, parseOptions, type Settings } from "./benchmark/options.ts";
import { buildHello } from "./benchmark/hello.ts";
import { type Phase, type PhaseCtx, PHASES, type Sample } from "./benchmark/phases.ts";
import { accepts, cpuTimes, killPids, loadavg, processesOf, run } from "./benchmark/proc.ts";
import { prepareProgram, type ServiceProgram } from "./benchmark/program.ts";
import { median, renderComparison, renderTable, type Row, verdict } from "./benchmark/report.ts";
import { pm2Tool } from "./benchmark/tools/pm2.ts";
import { runitTool } from "./benchmark/tools/runit.ts";
import { supervisordTool } from "./benchmark/tools/supervisord.ts";
import { svTool } from "./benchmark/tools/sv.ts";
import type { Session, Tool } from "./benchmark/tools/tool.ts";

const log = (msg: string) => console.error(`bench: ${msg}`);

/** What must be stopped if we are interrupted: open sessions, and every copy of the service program. */
const live = { sessions: new Set<Session>(), programs: new Set<string>() };

async function cleanUpEverything(): Promise<void> {
  for (const session of live.sessions) {
    try {
      await session.close();
    } catch (e) {
      log(`cleanup: ${(e as Error).message}`);
    }
  }
  live.sessions.clear();
  for (const program of live.programs) await killPids(processesOf(program)).catch(() => 0);
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
    s.ussMiB !== undefined ? `USS ${s.ussMiB.toFixed(1)} MiB` : "",
    s.peakMiB !== undefined ? `peak ${s.peakMiB.toFixed(1)} MiB` : "",
  ].filter(Boolean);
  return `${s.value.toFixed(phase.unit === "% CPU" ? 2 : 1)} ${phase.unit ?? "ms"}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

/** One phase for one tool: fresh session, setup, warmup, timed runs, teardown, close; never throws. */
async function runPhase(phase: Phase, tool: Tool, settings: Settings, workspace: string, program: ServiceProgram, hello: string | null, ports: number[]): Promise<Row> {
  const dir = join(workspace, `${tool.name}-${phase.id}`);
  mkdirSync(dir, { recursive: true });
  const installed = program.install(dir);
  live.programs.add(installed);
  const services = ports.map((port, i) => ({ name: `s${String(i + 1).padStart(3, "0")}`, port, argv: program.argv(installed, port) }));
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
    const busy = await firstPortInUse(ports);
    if (busy !== undefined) throw new Error(`port ${busy} is already in use; choose another range with --port-base`);
    session = await tool.open(dir, services, settings.timeoutMs, phase.open);
    live.sessions.add(session);
    const ctx: PhaseCtx = { tool: tool.name, session, services, ports, program: installed, settings, iteration: 0, budget, hello, log: (l) => log(`${phase.id} ${l}`) };
    await phase.setup?.(ctx);
    for (let i = 0; i < warmup; i++, ctx.iteration++) await phase.measure(ctx);
    for (let i = 0; i < runs; i++, ctx.iteration++) {
      const sample = await phase.measure(ctx);
      row.samples.push(sample);
      if (runs <= 20) log(`${phase.id} ${tool.name} run ${i + 1}/${runs}: ${describeSample(phase, sample)}`);
    }
    await phase.teardown?.(ctx);
  } catch (e) {
    row.error = (e as Error).message;
    if (session) row.error += ` [${await session.diagnose().catch((d: Error) => `no diagnosis: ${d.message}`)}]`;
    log(`${phase.id} ${tool.name}: FAILED: ${row.error}`);
  } finally {
    if (session) {
      try {
        await session.close();
      } catch (e) {
        log(`${phase.id} ${tool.name}: closing failed: ${(e as Error).message}`);
      }
      live.sessions.delete(session);
    }
    const left = processesOf(installed);
    if (left.length > 0) {
      await killPids(left);
      log(`${phase.id} ${tool.name}: ${left.length} service processes were still running after close; killed them by pid`);
    }
  }
  const cpu1 = cpuTimes();
  row.busyPct = (100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total);
  if (row.samples.length > 0) log(`${phase.id} ${tool.name}: median ${median(row.samples.map((s) => s.value)).toFixed(2)} ${phase.unit ?? "ms"} over ${row.samples.length} runs`);
  return row;
}

async function main(argv: string[]): Promise<number> {
  let settings: Settings | null;
  try {
    settings = parseOptions(argv, PHASES.map((p) => p.id));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\nrun scripts/bench --help`);
    return 2;
  }
  if (!settings) {
    console.log(HELP);
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
    const all: Tool[] = [svTool(settings.sv), supervisordTool(), pm2Tool(settings.pm2), runitTool(settings.runit)];
    const tools: Tool[] = [];
    const versions: string[] = [];
    for (const tool of all.filter((t) => settings.tools.includes(t.name))) {
      if (tool.prepare) notes.push(...(await tool.prepare()));
      const why = tool.unavailable();
      if (why) notes.push(`${tool.name}: skipped: ${why}`);
      else {
        tools.push(tool);
        versions.push(await tool.version());
      }
    }
    if (tools.length === 0) throw new Error(`no tool can run here: ${notes.join("; ")}`);
    const phases = PHASES.filter((p) => !settings.phases || settings.phases.includes(p.id));
    let hello: string | null = null;
    if (phases.some((p) => p.id === "status")) {
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

    const portsNeeded = phases.reduce((sum, p) => sum + p.services(settings) * tools.length, 0);
    const ephemeral = ephemeralPorts();
    if (ephemeral && settings.portBase + portsNeeded > ephemeral[0] && settings.portBase <= ephemeral[1]) {
      notes.push(`ports ${settings.portBase}-${settings.portBase + portsNeeded - 1} overlap the ephemeral range ${ephemeral.join("-")}: a client socket may hold one, and a service then fails to bind`);
    }
    const rows: Row[] = [];
    let port = settings.portBase;
    for (const phase of phases) {
      for (const tool of tools) {
        if (phase.tools && !phase.tools.includes(tool.name)) continue;
        const n = phase.services(settings);
        if (port + n > 65535) throw new Error(`ran out of ports above --port-base ${settings.portBase}`);
        const ports = Array.from({ length: n }, (_, i) => port + i);
        port += n;
        rows.push(await runPhase(phase, tool, settings, workspace, program, hello, ports));
      }
    }
    const loadEnd = loadavg();

    const out: string[] = [];
    out.push("");
    out.push(
      `sv benchmark: up/down with ${settings.n} services (${settings.runs} runs + ${settings.warmup} warmup), status with ${settings.statusN} running (${settings.statusRuns} runs + ${settings.statusWarmup} warmup), ` +
        `crash with ${settings.n} supervised (${settings.crashRuns} kills + ${settings.warmup} warmup), rss/idle with ${settings.n} supervised (${settings.watchRuns} samples; idle over ${settings.idleSeconds} s each).`,
    );
    out.push("");
    out.push(renderTable(rows));
    out.push("");
    const idWidth = Math.max(...phases.map((p) => p.id.length));
    for (const p of phases) out.push(`  ${p.id.padEnd(idWidth)}  ${p.describe}`);
    out.push("  CMD EXIT  median time until the command itself exited (same start)");
    out.push("  TARGET    sv's goal from the issue (median, in UNIT); ISSUE: the peers' numbers quoted in the issue for this machine");
    out.push("  LOAD1     1-minute load average when the row started; CPU: whole-machine busy % during the row (benchmark included)");
    out.push("");
    out.push(`service program: ${program.describe}`);
    for (const v of versions) out.push(`tool: ${v}`);
    out.push(`load average: ${loadStart} at start, ${loadEnd} at end; CPU busy ${idlePct.toFixed(0)}% in the idle second before; ${navigator.hardwareConcurrency} CPUs`);
    out.push(`harness floor: spawning /bin/true the same way takes ${overhead.toFixed(1)} ms (median of 30)`);
    for (const n of notes) out.push(`note: ${n}`);
    const failed = rows.filter((r) => r.error);
    for (const r of failed) out.push(`FAILED ${r.phase.id} ${r.tool}: ${r.error}`);
    const misses = rows.filter((r) => verdict(r) === "MISS").map((r) => r.phase.id);
    out.push(misses.length ? `sv misses its target in: ${misses.join(", ")}` : rows.some((r) => verdict(r) === "ok") ? "sv meets every target it was measured against" : "");
    out.push("");
    out.push(renderComparison(rows));
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
        rows: rows.map((r) => ({ phase: r.phase.id, tool: r.tool, services: r.services, unit: r.phase.unit ?? "ms", target: r.phase.target ?? null, samples: r.samples, error: r.error ?? null, load1: r.load, busyPct: r.busyPct })),
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
