// Test harness: temporary projects, running the compiled sv, waiting on conditions, cleaning up processes.
import { afterEach } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
/** The compiled sv under test; SV_BIN overrides it (e.g. a binary built from a clean checkout). */
export const SV = process.env.SV_BIN ?? join(REPO, "dist/sv");
export const BUN = process.execPath;
export const FIXTURES = join(REPO, "test/fixtures");

export interface TempProject {
  root: string;
  write(path: string, content: string): void;
  read(path: string): string;
}

const created: string[] = [];

/** A fresh project dir with `files` (path -> content). Processes it starts are killed after the test. */
export function tempProject(files: Record<string, string> = {}): TempProject {
  const root = mkdtempSync(join(tmpdir(), "sv-test-"));
  created.push(root);
  const write = (path: string, content: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  for (const [path, content] of Object.entries(files)) write(path, content);
  if (!existsSync(join(root, "services")) && !existsSync(join(root, "sv.yml"))) mkdirSync(join(root, "services"));
  return { root, write, read: (path) => readFileSync(join(root, path), "utf8") };
}

/**
 * Kill every process group recorded in a project's store: tests never leak services. A group is skipped
 * when its leader's pid now belongs to a process with another start time (the kernel never reuses a pid
 * while a group with that id exists, so that group is gone and the pid is someone else's), and when the
 * store is unreadable or has no start time for it (a deliberately mangled store holds no real processes).
 */
export function killRecorded(root: string): void {
  const store = join(root, ".sv/state/services.yml");
  if (!existsSync(store)) return;
  let recorded: { pid: number; ticks: number | null }[];
  try {
    const text = readFileSync(store, "utf8");
    const units = Object.values((Bun.YAML.parse(text) as { services?: Record<string, { pid?: unknown; start_ticks?: unknown; handle?: { pgid?: unknown; ticks?: unknown } }> }).services ?? {}).map((u) => (u?.handle ? { pid: u.handle.pgid, start_ticks: u.handle.ticks } : u));
    recorded = units.filter((u) => typeof u?.pid === "number").map((u) => ({ pid: u.pid as number, ticks: typeof u.start_ticks === "number" ? u.start_ticks : null }));
  } catch {
    return;
  }
  for (const { pid, ticks } of recorded) {
    // kill(-1) is every process we may signal, kill(-0) our own group: a mangled store must never get there.
    if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) continue;
    // Without a recorded start time we cannot tell our group from someone else's: leave it.
    if (ticks === null) continue;
    const now = startTicksOf(pid);
    if (now !== null && now !== ticks) continue;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
}

afterEach(() => {
  for (const root of created.splice(0)) {
    killRecorded(root);
    rmSync(root, { recursive: true, force: true });
  }
});

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the compiled sv in `root` with `args`, as a user would (no TTY, NO_COLOR). */
export async function sv(root: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const proc = Bun.spawn([SV, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", CI: "true", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: opts.timeoutMs ?? 30_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Poll `check` until it returns a truthy value or the deadline passes (then throw `message`). */
export async function waitFor<T>(check: () => T | Promise<T>, message: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await Bun.sleep(20);
  }
}

/** A TCP port that was free a moment ago (bind :0, read it, close). */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** Does 127.0.0.1:port accept a connection? */
export async function isListening(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** Is `pid` alive (and not a zombie)? */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The parsed `sv status --json` of a project. */
export async function status(root: string): Promise<{ name: string; state: string; health: string; pid: number | null; last_error: string | null; restarts: number; wanted: string; since: string }[]> {
  const r = await sv(root, ["status", "--json"]);
  if (r.code !== 0) throw new Error(`sv status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout).services;
}

/** A service command that runs a fixture script with the test's bun. */
export function fixtureCommand(script: string, ...args: string[]): string {
  return JSON.stringify([BUN, join(FIXTURES, script), ...args]);
}

const cleanups: (() => void)[] = [];

/** The start time of `pid` (clock ticks since boot, /proc/PID/stat field 22), or null when it is gone. */
export function startTicksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return null;
  }
}

/**
 * SIGKILL `pid` and the process group it leads after the test: for processes a test starts outside sv.
 * Only while it is still the same process (its start time matches), so a reused pid is never hit.
 */
export function killAfterTest(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) throw new Error(`killAfterTest: refusing pid ${pid}`);
  const ticks = startTicksOf(pid);
  cleanups.push(() => {
    if (ticks === null || startTicksOf(pid) !== ticks) return;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {}
    }
  });
}

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A running sv, started in the background; `done` resolves like `sv()` does. */
export interface Background {
  pid: number;
  done: Promise<RunResult>;
}

/** Start the compiled sv without waiting for it (no TTY, NO_COLOR). It is killed after the test if still running. */
export function svBackground(root: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Background {
  const proc = Bun.spawn([SV, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", CI: "true", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: opts.timeoutMs ?? 30_000,
  });
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  });
  const done = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([stdout, stderr, code]) => ({ code, stdout, stderr }));
  return { pid: proc.pid, done };
}

/** One line of a project's .sv/events.jsonl. */
export interface EventLine {
  ts: string;
  service: string;
  from: string;
  to: string;
  reason: string;
  pid: number | null;
}

/** Every transition recorded so far in a project, in order. */
export function events(root: string): EventLine[] {
  const file = join(root, ".sv/events.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as EventLine);
}

/** Index of the first event of `service` moving to `to` (and from `from`, when given); -1 when there is none. */
export function eventIndex(list: EventLine[], service: string, to: string, from?: string): number {
  return list.findIndex((e) => e.service === service && e.to === to && (from === undefined || e.from === from));
}

/** The status entry of one unit (throws when it is missing). */
export async function unitStatus(root: string, name: string): Promise<Awaited<ReturnType<typeof status>>[number]> {
  const found = (await status(root)).find((s) => s.name === name);
  if (!found) throw new Error(`no status for ${name}`);
  return found;
}

/** A fixture script's absolute path. */
export function fixture(script: string): string {
  return join(FIXTURES, script);
}
