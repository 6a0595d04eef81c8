// Where an sv command's time goes on hosts, for the profile runs: sshtap.c compiled as `ssh` into a dir put first
// on sv's PATH, so each ssh sv runs is logged (when it started and ended, its mode and host) without a tracer
// slowing sv down; then a timeline of one command: sv's own time before, between and after its ssh runs.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { coveredMs, fmtMs as ms, medianOver } from "../report.ts";
import { describeFailure, type RunOptions, start } from "../proc.ts";

const SOURCE = join(import.meta.dir, "sshtap.c");

export interface Tap {
  /** The dir holding `ssh` (the tap): put first on PATH. */
  dir: string;
  /** The file the tap appends to (SV_BENCH_TAP). */
  file: string;
}

/** Compile the tap into `workDir`/bin/ssh; null (with the reason logged) when there is no C compiler. */
export function buildTap(workDir: string, log: (line: string) => void): Tap | null {
  const cc = Bun.which("cc") ?? Bun.which("gcc");
  const ssh = Bun.which("ssh");
  if (!cc || !ssh) {
    log(`no ssh timeline: ${cc ? "no ssh on PATH" : "no C compiler (cc/gcc) for sshtap.c"}`);
    return null;
  }
  const dir = join(workDir, "bin");
  mkdirSync(dir, { recursive: true });
  const r = Bun.spawnSync([cc, "-O2", "-o", join(dir, "ssh"), SOURCE], { stdio: ["ignore", "pipe", "pipe"] });
  if (r.exitCode !== 0) {
    log(`no ssh timeline: cc sshtap.c failed: ${r.stderr.toString().trim().split("\n").slice(-2).join(" ")}`);
    return null;
  }
  return { dir, file: join(workDir, "tap.log") };
}

/** The environment that sends `env`'s ssh through the tap. */
export function tapped(tap: Tap, env: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...env, PATH: `${tap.dir}:${env.PATH ?? process.env.PATH ?? "/usr/bin:/bin"}`, SV_BENCH_TAP: tap.file, SV_BENCH_SSH: Bun.which("ssh", { PATH: env.PATH ?? process.env.PATH }) ?? "/usr/bin/ssh" };
}

/** One ssh run, in ms from the command's spawn. */
export interface SshRun {
  mode: string;
  host: string;
  start: number;
  end: number;
  code: number;
}

export interface Traced {
  /** The command's own wall time. */
  ms: number;
  ssh: SshRun[];
  /** Extra marks in ms from the spawn (e.g. "port accepts"). */
  marks: Record<string, number>;
}

/** The tap's lines since the file was cleared, as ssh runs relative to `t0` (performance.now() of the spawn). */
export function readTap(tap: Tap, t0: number): SshRun[] {
  if (!existsSync(tap.file)) return [];
  const origin = performance.timeOrigin + t0;
  const starts = new Map<number, { mode: string; host: string; at: number }>();
  const out: SshRun[] = [];
  for (const line of readFileSync(tap.file, "utf8").split("\n")) {
    const [us, pid, what, a, b] = line.split(" ");
    if (!us || !pid) continue;
    const at = Number(us) / 1000 - origin;
    if (what === "start") starts.set(Number(pid), { mode: a ?? "?", host: b ?? "?", at });
    else if (what === "end") {
      const s = starts.get(Number(pid));
      if (s) out.push({ mode: s.mode, host: s.host, start: s.at, end: at, code: Number(a) });
      starts.delete(Number(pid));
    }
  }
  // still running when read (a master's parent ends at once with -f; a follower would not): open-ended
  for (const s of starts.values()) out.push({ mode: s.mode, host: s.host, start: s.at, end: NaN, code: NaN });
  return out.sort((x, y) => x.start - y.start);
}

/** Run `argv` with its ssh through the tap; throws on a non-zero exit. `during` runs while it runs (e.g. port polling) and gives marks. */
export async function tapRun(tap: Tap, argv: string[], opts: RunOptions, during?: (t0: number, failed: () => string | null) => Promise<Record<string, number>>): Promise<Traced> {
  rmSync(tap.file, { force: true });
  const started = start(argv, { ...opts, env: tapped(tap, opts.env ?? (process.env as Record<string, string>)) });
  const failed = () => (started.result && started.result.code !== 0 ? describeFailure(started.result) : null);
  const marks = during ? await during(started.t0, failed) : {};
  const r = await started.done;
  if (r.code !== 0) throw new Error(describeFailure(r));
  return { ms: r.ms, ssh: readTap(tap, started.t0), marks };
}

/** Total time with at least one ssh running, within [0, until]. */
const sshBusy = (runs: SshRun[], until: number) => coveredMs(runs.map((r) => [Math.max(0, r.start), Math.min(until, Number.isNaN(r.end) ? until : r.end)] as const));

/**
 * Median timeline of traced runs: each ssh's start and duration (when every run made the same ssh runs, else the
 * last run's), then the split of the command's wall time: before the first ssh, with some ssh running, without
 * (between and after them).
 */
export function renderTapTimeline(runs: Traced[], what: string): { lines: string[]; stats: Record<string, number> } {
  const lines: string[] = [];
  if (runs.length === 0) return { lines: [`${what}: no runs`], stats: {} };
  // the same ssh runs: the same modes in the same order (which host's ssh starts first varies from run to run)
  const sig = (t: Traced) => t.ssh.map((s) => s.mode).join(",");
  const same = runs.every((t) => sig(t) === sig(runs[0]!));
  const med = (f: (t: Traced) => number | undefined) => medianOver(runs, f);
  const n = runs.length;
  const counts = runs.map((t) => t.ssh.length);
  lines.push(`${what}: ${same ? `the same ${counts[0]} ssh runs in each of ${n} runs` : `ssh runs per run ${counts.join(", ")} (runs differ; the last shown)`}; ms from sv's spawn${n > 1 ? ", medians" : ""}:`);
  const shown = same ? runs[0]! : runs[n - 1]!;
  shown.ssh.forEach((s, i) => {
    const start = same ? med((t) => t.ssh[i]?.start) : s.start;
    const dur = same ? med((t) => (t.ssh[i] ? t.ssh[i]!.end - t.ssh[i]!.start : undefined)) : s.end - s.start;
    const host = !same || runs.every((t) => t.ssh[i]?.host === s.host) ? s.host : "(host varies)";
    lines.push(`  +${ms(start).padStart(6)}  ${ms(dur).padStart(6)} ms  ssh ${s.mode} ${host}${s.code ? ` (exit ${s.code})` : ""}`);
  });
  const markNames = [...new Set(runs.flatMap((t) => Object.keys(t.marks)))];
  for (const m of markNames) lines.push(`  +${ms(med((t) => t.marks[m])).padStart(6)}          ${m}`);
  lines.push(`  +${ms(med((t) => t.ms)).padStart(6)}          sv exits`);
  const stats = {
    firstSshMs: med((t) => t.ssh[0]?.start),
    sshBusyMs: med((t) => sshBusy(t.ssh, t.ms)),
    afterLastSshMs: med((t) => (t.ssh.length ? t.ms - Math.max(...t.ssh.map((s) => (Number.isNaN(s.end) ? 0 : s.end))) : undefined)),
    sshRuns: med((t) => t.ssh.length),
    sshMs: med((t) => t.ssh.reduce((a, s) => a + (Number.isNaN(s.end) ? 0 : s.end - s.start), 0)),
    wallMs: med((t) => t.ms),
  };
  const own = stats.wallMs - stats.sshBusyMs;
  lines.push(
    `  split: ${ms(stats.firstSshMs)} ms before the first ssh (process start, config, store), ${ms(stats.sshBusyMs)} ms with an ssh running ` +
      `(${ms(stats.sshMs)} ms of ssh in all, ${stats.sshRuns} runs), ${ms(own - stats.firstSshMs)} ms of sv's own between and after them (${ms(stats.afterLastSshMs)} ms after the last)`,
  );
  return { lines, stats };
}
