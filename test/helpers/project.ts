// Test harness: temporary projects, running the compiled sv, waiting on conditions, cleaning up processes.
import { afterEach } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const SV = join(REPO, "dist/sv");
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

/** Kill every process group recorded in a project's store: tests never leak services. */
export function killRecorded(root: string): void {
  const store = join(root, ".sv/state/services.yml");
  if (!existsSync(store)) return;
  for (const m of readFileSync(store, "utf8").matchAll(/^\s+pid: (\d+)$/gm)) {
    try {
      process.kill(-Number(m[1]), "SIGKILL");
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
export async function status(root: string): Promise<{ name: string; state: string; health: string; pid: number | null; last_error: string | null; restarts: number; wanted: string }[]> {
  const r = await sv(root, ["status", "--json"]);
  if (r.code !== 0) throw new Error(`sv status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout).services;
}

/** A service command that runs a fixture script with the test's bun. */
export function fixtureCommand(script: string, ...args: string[]): string {
  return JSON.stringify([BUN, join(FIXTURES, script), ...args]);
}
