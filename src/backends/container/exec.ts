// Commands run inside a unit's container (hooks, command probes, on_failure commands) through the exec
// API: their exit code, their stderr when captured, killed past their timeout.
import type { ExecRequest, ExecResult } from "../backend.ts";
import { EngineError, type EngineClient, readFrames } from "./client.ts";

const NOT_FOUND = /executable file not found|no such file or directory|not found in \$PATH/i;

/** The variables sv adds (the service's env is the container's already; sv's own environment stays outside). */
function addedEnv(env: ExecRequest["env"]): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v !== undefined && process.env[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
}

export async function execInContainer(client: EngineClient, name: string, req: ExecRequest, hookLog: (unit: string, text: string) => void): Promise<ExecResult> {
  const result = (over: Partial<ExecResult>): ExecResult => ({ code: null, signal: null, timedOut: false, stderr: "", ...over });
  let id: string;
  try {
    ({ Id: id } = await client.json<{ Id: string }>("POST", `/containers/${name}/exec`, {
      body: { Cmd: req.argv, Env: addedEnv(req.env), AttachStdout: true, AttachStderr: true, ...(req.svc.user ? { User: req.svc.user } : {}) },
    }));
  } catch (e) {
    if (e instanceof EngineError) return result({ error: e.status === 404 ? `container ${name} does not exist` : e.status === 409 ? `container ${name} is not running` : e.message });
    throw e;
  }
  let stderr = "";
  let all = "";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  let timedOut = false;
  try {
    const res = await client.request("POST", `/exec/${id}/start`, { body: { Detach: false, Tty: false }, signal: abort.signal });
    await readFrames(res.body, (f) => {
      all += f.text;
      if (f.stream === 2) stderr += f.text;
    });
  } catch (e) {
    if ((e as Error).name !== "AbortError") {
      clearTimeout(timer);
      if (e instanceof EngineError && NOT_FOUND.test(e.message)) return result({ error: "command not found" });
      return result({ error: (e as Error).message });
    }
    timedOut = true;
  } finally {
    clearTimeout(timer);
  }
  const info = await client.json<{ ExitCode: number | null; Running: boolean; Pid: number }>("GET", `/exec/${id}/json`).catch(() => null);
  if (timedOut || info?.Running) {
    // The engine has no "kill this exec": its process is ours to kill (root, or the engine's own user).
    if (info?.Pid && info.Pid > 1) {
      try {
        process.kill(info.Pid, "SIGKILL");
      } catch {}
    }
    if (req.output === "log") hookLog(req.unit, all);
    return result({ timedOut: true, stderr: req.output === "capture" ? stderr : "" });
  }
  const code = info?.ExitCode ?? null;
  if ((code === 126 || code === 127) && NOT_FOUND.test(all)) return result({ error: "command not found" });
  if (req.output === "log") hookLog(req.unit, all);
  return result({ code, stderr: req.output === "capture" ? stderr : "" });
}
