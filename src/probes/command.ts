// Command probe: run it in the service's cwd; it passes when it exits with the expected code in time.
import { commandArgv } from "../runtime/spawn.ts";

/** Resolves null on the expected exit code, else the reason. */
export async function probeCommand(
  command: string | string[],
  expectedExitCode: number,
  timeoutMs: number,
  opts: { cwd: string; env: Record<string, string | undefined> },
): Promise<string | null> {
  const proc = Bun.spawn(commandArgv(command), { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "ignore", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (proc.signalCode === "SIGKILL" && code !== expectedExitCode) return `health command did not finish within ${timeoutMs} ms`;
  if (code === expectedExitCode) return null;
  const detail = stderr.trim().split("\n").pop();
  return `health command exited with code ${code} (expected ${expectedExitCode})${detail ? `: ${detail.slice(0, 200)}` : ""}`;
}
