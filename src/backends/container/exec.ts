// Commands run inside a unit's container (hooks, command probes, on_failure commands) through the exec
// API: their exit code, their stderr when captured, killed past their timeout.
import type { Project } from "../../config/schema.ts";
import type { ExecRequest, ExecResult } from "../backend.ts";
import { EngineError, type EngineClient, readFrames } from "./client.ts";
import { createBody } from "./create.ts";
import { projectLabels } from "./names.ts";

const NOT_FOUND = /executable file not found|no such file or directory|not found in \$PATH/i;

const result = (over: Partial<ExecResult>): ExecResult => ({ code: null, signal: null, timedOut: false, stderr: "", ...over });

type HookLog = (unit: string, text: string) => void;

/**
 * Run `req.argv` where the unit runs: in its container when that runs, else (pre_start, post_stop, a
 * probe of a stopped unit) in a throwaway container of the same image, env, mounts and network.
 */
export async function execInContainer(client: EngineClient, project: Project, name: string, req: ExecRequest, hookLog: HookLog): Promise<ExecResult> {
  let id: string;
  try {
    ({ Id: id } = await client.json<{ Id: string }>("POST", `/containers/${name}/exec`, {
      // Output for the log goes through a terminal: one stream, so stdout and stderr keep the order they were
      // written in (two pipes, multiplexed by the engine, do not). Captured output keeps stderr apart.
      body: { Cmd: req.argv, Env: Object.entries(req.added).map(([k, v]) => `${k}=${v}`), AttachStdout: true, AttachStderr: true, Tty: req.output === "log", ...(req.svc.user ? { User: req.svc.user } : {}) },
    }));
  } catch (e) {
    if (e instanceof EngineError && (e.status === 404 || e.status === 409 || /not running/i.test(e.message))) return runOnce(client, project, name, req, hookLog);
    if (e instanceof EngineError) return result({ error: e.message });
    throw e;
  }
  return execStream(client, id, req, hookLog);
}

/** Like `docker run --rm`: a container of the unit's image running only the command, removed after. */
async function runOnce(client: EngineClient, project: Project, name: string, req: ExecRequest, hookLog: HookLog): Promise<ExecResult> {
  // The variables sv adds: the service's env is the image's container's already; sv's own stays outside.
  const env = req.added;
  const spec = { hash: "", type: req.svc.type, backend: "container", stop_signal: "SIGKILL", stop_timeout_ms: 0, port: null };
  const body = createBody(project, { unit: req.unit, svc: req.svc, instance: 0, env, inherited: {}, spec });
  // Not the unit: none of its labels (discovery ignores it), no published ports (the unit may hold them).
  Object.assign(body, { Entrypoint: req.argv.slice(0, 1), Cmd: req.argv.slice(1), Labels: projectLabels(project), ExposedPorts: {}, Tty: req.output === "log" });
  (body.HostConfig as Record<string, unknown>).PortBindings = {};
  let id: string;
  try {
    ({ Id: id } = await client.json<{ Id: string }>("POST", "/containers/create", { query: { name: `${name}-run-${crypto.randomUUID().slice(0, 8)}` }, body }));
  } catch (e) {
    if (e instanceof EngineError) return result({ error: e.message });
    throw e;
  }
  const remove = () => client.request("DELETE", `/containers/${id}`, { query: { force: 1 } }).catch(() => {});
  try {
    try {
      await client.request("POST", `/containers/${id}/start`);
    } catch (e) {
      if (e instanceof EngineError && NOT_FOUND.test(e.message)) return result({ error: "command not found" });
      if (e instanceof EngineError) return result({ error: e.message });
      throw e;
    }
    const wait = client.json<{ StatusCode: number }>("POST", `/containers/${id}/wait`, { signal: AbortSignal.timeout(req.timeoutMs) }).then(
      (w) => w.StatusCode,
      () => null,
    );
    const code = await wait;
    let stderr = "";
    let all = "";
    const logs = await client.request("GET", `/containers/${id}/logs`, { query: { stdout: 1, stderr: 1 } }).catch(() => null);
    if (logs && req.output === "log") all = (await logs.text()).replaceAll("\r\n", "\n");
    else if (logs) await readFrames(logs.body, (f) => ((all += f.text), f.stream === 2 && (stderr += f.text)));
    if (req.output === "log") hookLog(req.unit, all);
    if (code === null) return result({ timedOut: true, stderr: req.output === "capture" ? stderr : "" });
    return result({ code, stderr: req.output === "capture" ? stderr : "" });
  } finally {
    await remove();
  }
}

async function execStream(client: EngineClient, id: string, req: ExecRequest, hookLog: HookLog): Promise<ExecResult> {
  let stderr = "";
  let all = "";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  let timedOut = false;
  try {
    const tty = req.output === "log";
    const res = await client.request("POST", `/exec/${id}/start`, { body: { Detach: false, Tty: tty }, signal: abort.signal });
    if (tty) all = (await res.text()).replaceAll("\r\n", "\n");
    else
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
