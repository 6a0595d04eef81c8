// Running a command next to a local service (hooks, command probes, on_failure): to completion, bounded in time.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { ExecRequest, ExecResult } from "../backend.ts";

/** Run `req.argv` in the service's cwd; output to `logPath` (output "log") or stderr captured. */
export async function execLocal(req: ExecRequest, logPath: string): Promise<ExecResult> {
  let fd: number | undefined;
  try {
    if (req.output === "log") {
      mkdirSync(dirname(logPath), { recursive: true });
      fd = openSync(logPath, "a");
    }
    const proc = Bun.spawn(req.argv, {
      cwd: req.svc.cwd,
      env: req.env,
      stdio: ["ignore", fd ?? "ignore", fd ?? "pipe"],
      timeout: req.timeoutMs,
      killSignal: "SIGKILL",
    });
    const [code, stderr] = await Promise.all([proc.exited, fd === undefined ? new Response(proc.stderr as ReadableStream).text() : ""]);
    const signal = proc.signalCode ? String(proc.signalCode) : null;
    return { code: signal ? null : code, signal, timedOut: signal === "SIGKILL" && proc.killed, stderr };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "command not found" : code === "EACCES" ? "permission denied" : (e as Error).message;
    return { code: null, signal: null, timedOut: false, stderr: "", error: why };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
