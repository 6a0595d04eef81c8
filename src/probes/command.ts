// Command probe: run where the service runs; it passes when it exits with the expected code in time.
import { commandArgv } from "../config/command.ts";

/** Runs argv to completion (bounded by timeoutMs); how it ended and what it wrote to stderr. */
export type RunCommand = (
  argv: string[],
  timeoutMs: number,
) => Promise<{ code: number | null; timedOut: boolean; stderr: string; error?: string }>;


/** Resolves null on the expected exit code, else the reason. */
export async function probeCommand(command: string | string[], expectedExitCode: number, timeoutMs: number, run: RunCommand): Promise<string | null> {
  const r = await run(commandArgv(command), timeoutMs);
  if (r.error) return `health command could not run: ${r.error}`;
  if (r.code === expectedExitCode) return null;
  if (r.timedOut) return `health command did not finish within ${timeoutMs} ms`;
  const detail = r.stderr.trim().split("\n").pop();
  return `health command exited with code ${r.code} (expected ${expectedExitCode})${detail ? `: ${detail.slice(0, 200)}` : ""}`;
}
