// Running a command next to a local service (hooks, command probes, on_failure): to completion, bounded in time.
import { closeSync } from "node:fs";
import { dirname } from "node:path";
import { ensurePrivateDir, openPrivate } from "../../runtime/private-files.ts";
import { asUser, userEnv, whyNotRunnable } from "../../runtime/spawn.ts";
import type { ExecRequest, ExecResult } from "../backend.ts";

/** How long stderr may stay open after the command exits: a background child it left may hold it forever. */
const STDERR_GRACE_MS = 100;
/** Captured stderr keeps its last this many bytes (probes show only the last line). */
const MAX_STDERR_BYTES = 64 << 10;

/**
 * Run `req.argv` in the service's cwd; output to `logPath` (output "log") or stderr captured.
 *
 * The command leads its own process group, so that the timeout reaches what it started too: Bun's own
 * `timeout` kills only the direct child, and a pipeline or background child would then live on (and,
 * holding stderr open, keep a capture waiting past any deadline). On timeout the whole group is
 * SIGKILLed. On a normal exit the group is left alone: hooks that start a daemon in the background
 * are a known pattern, and whatever it leaves is its own (stderr is then read only for a short grace).
 */
export async function execLocal(req: ExecRequest, logPath: string): Promise<ExecResult> {
  let fd: number | undefined;
  try {
    // As the service's user, like the service (systemd runs ExecStartPre= as User= too). Behind setpriv a
    // missing command would be setpriv's exit 127: said here as the spawn would.
    const why = req.svc.user !== undefined || req.svc.group !== undefined ? whyNotRunnable(req.argv[0]!, req.svc.cwd, req.env.PATH) : null;
    if (why !== null) return { code: null, signal: null, timedOut: false, stderr: "", error: why };
    if (req.output === "log") {
      ensurePrivateDir(dirname(logPath));
      fd = openPrivate(logPath, "append", 0o600);
    }
    // detached gives it a new session (and group); not unref'd, so its exit is still ours to see.
    const proc = Bun.spawn(asUser(req.svc, req.argv), {
      cwd: req.svc.cwd,
      env: withUserEnv(req),
      stdio: ["ignore", fd ?? "ignore", fd ?? "pipe"],
      detached: true,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(proc.pid);
    }, req.timeoutMs);
    const stderr = fd === undefined ? collect(proc.stderr as ReadableStream<Uint8Array>) : undefined;
    const code = await proc.exited;
    clearTimeout(timer);
    const text = stderr ? await stderr.until(STDERR_GRACE_MS) : "";
    const signal = proc.signalCode ? String(proc.signalCode) : null;
    return { code: signal ? null : code, signal, timedOut: timedOut && signal === "SIGKILL", stderr: text };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "command not found" : code === "EACCES" ? "permission denied" : (e as Error).message;
    return { code: null, signal: null, timedOut: false, stderr: "", error: why };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The environment with the login variables of the service's user (HOME, USER …), under what its env: sets. */
function withUserEnv(req: ExecRequest): Record<string, string | undefined> {
  const env = { ...req.env };
  for (const [k, v] of Object.entries(userEnv(req.svc.name, req.svc))) if (!(k in req.svc.env)) env[k] = v;
  return env;
}

/** SIGKILL process group `pgid` (the exec'd command's, led by it); a group already gone is fine. */
function killGroup(pgid: number): void {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {}
}

/** Read `stream` from now on (so a chatty command never blocks on a full pipe); `until` returns what came. */
function collect(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        chunks.push(value);
        size += value.length;
        while (size - chunks[0]!.length >= MAX_STDERR_BYTES) size -= chunks.shift()!.length;
      }
    } catch {}
  })();
  return {
    /** Wait up to `graceMs` for end of file, then stop reading; the text read so far (its last MAX_STDERR_BYTES). */
    async until(graceMs: number): Promise<string> {
      let timer: Timer | undefined;
      await Promise.race([done, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      void reader.cancel().catch(() => {});
      const all = Buffer.concat(chunks);
      return all.subarray(Math.max(0, all.length - MAX_STDERR_BYTES)).toString("utf8");
    },
  };
}
