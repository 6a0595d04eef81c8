// What the test rigs (hosts.ts's sshd hosts, engines.ts's container engines) share: process identity by pid and
// start ticks from /proc, signals and waits, and the record file each rig keeps in its own dir (record.json,
// written whole) so that a crashed run's leftovers can be found and torn down later.
//
// Plain TS (no bun:test import): test files and scripts import the helpers that import it.
import { readdirSync, readFileSync, readlinkSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type Result = { code: number; out: string; err: string };

/**
 * Run `argv` to its end, stdin from `stdin` (else none); never throws: 127 when it cannot be started, 124 when it
 * ends by a signal (its `timeoutMs` ran out and it was killed).
 */
export function run(argv: string[], opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Result {
  try {
    const r = Bun.spawnSync(argv, {
      stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
      env: opts.env,
      timeout: opts.timeoutMs,
      killSignal: "SIGKILL",
    });
    return { code: r.exitCode ?? 124, out: r.stdout.toString(), err: r.stderr.toString() };
  } catch (e) {
    return { code: 127, out: "", err: (e as Error).message };
  }
}

/** A process as a record names it: its pid and its start time in clock ticks (null when it was already gone). */
export interface Proc {
  pid: number;
  ticks: number | null;
}

/** /proc/PID/stat's fields after the command name (index 0 is field 3, the state), or null when it is gone. */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** Start time of `pid` in clock ticks since boot (/proc/PID/stat field 22), or null when it is gone. */
export function ticksOf(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[19]) : null;
}

export const procOf = (pid: number): Proc => ({ pid, ticks: ticksOf(pid) });

/** Alive and not a zombie (this machine's PID 1 reaps orphans late). */
export function alive(pid: number): boolean {
  const f = statFields(pid);
  return f !== null && f[0] !== "Z" && f[0] !== "X";
}

/** Is `p` still the process that started at its ticks, and running? */
export function same(p: Proc | undefined): p is Proc {
  return !!p && Number.isSafeInteger(p.pid) && p.pid > 1 && p.ticks !== null && ticksOf(p.pid) === p.ticks && alive(p.pid);
}

/** Signal `pid`, never PID 1 or this process; a process already gone is no error. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return;
  try {
    process.kill(pid, sig);
  } catch {}
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await Bun.sleep(stepMs);
  }
}

/** For synchronous callers (an exit hook, a synchronous API), where nothing may be awaited. */
export function waitUntilSync(check: () => boolean, timeoutMs: number, stepMs = 5): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    Bun.sleepSync(stepMs);
  }
}

/** The last `lines` lines of a log, `empty` when it has none, "(no log)" when it cannot be read. */
export function tail(file: string, lines = 20, empty = "(empty)"): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") || empty;
  } catch {
    return "(no log)";
  }
}

/** Every pid on the machine but PID 1 (this pid namespace's view). */
export function allPids(): number[] {
  return readdirSync("/proc")
    .map(Number)
    .filter((p) => Number.isSafeInteger(p) && p > 1);
}

export function readlinkSafe(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

export function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Milliseconds since `path` last changed (as if forever when it is gone). */
export const ageMs = (path: string) => Date.now() - (statSafe(path)?.mtimeMs ?? 0);

/** The names in `dir` (a state root of rigs' dirs), none when it does not exist. */
export function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** This boot's id: pids, links and mounts in a record mean nothing after a reboot. */
export function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Was a record written before this machine last booted (so nothing it names still exists)? Its `where` (the
 * namespaces it was written in) ends with the boot id.
 */
export const rebooted = (where: string) => where.split(" ").at(-1) !== bootId();

// ---------------------------------------------------------------------------------------------------------
// a rig's record: DIR/record.json

export const recordFile = (dir: string) => join(dir, "record.json");

/** The record in `dir` as JSON, unchecked (the caller validates it), or null when there is none or it is not JSON. */
export function readRecordJson<T>(dir: string): Partial<T> | null {
  try {
    return JSON.parse(readFileSync(recordFile(dir), "utf8")) as Partial<T>;
  } catch {
    return null;
  }
}

/** Written whole (a temp file renamed over it), so a reader never sees half a record. */
export function writeRecord(r: { dir: string }): void {
  writeFileSync(`${recordFile(r.dir)}.new`, JSON.stringify(r));
  renameSync(`${recordFile(r.dir)}.new`, recordFile(r.dir));
}
