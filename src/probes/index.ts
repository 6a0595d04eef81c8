// Run a service's health check once: dispatch by type, with timing.
import type { HealthCheck, Service } from "../config/schema.ts";
import { isSameProcess } from "../runtime/identity.ts";
import { probeCommand } from "./command.ts";
import { probeHttp } from "./http.ts";
import { probeTcp } from "./tcp.ts";

export interface ProbeResult {
  ok: boolean;
  /** Why it failed; null when ok. */
  reason: string | null;
  durationMs: number;
}

/** What the probe needs of the unit: its process, for the `process` type. */
export interface ProbeTarget {
  pid: number | null;
  startTicks: number | null;
  /** The unit's environment, for command checks (built only when one runs). */
  env: () => Record<string, string | undefined>;
  /** The caller has just checked the process is alive (skips a second /proc read). */
  alive?: boolean;
}

/** Run `svc`'s health check against `target` once. */
export async function runProbe(svc: Service, target: ProbeTarget, check: HealthCheck = svc.healthCheck): Promise<ProbeResult> {
  const t0 = performance.now();
  let reason: string | null;
  if (!target.alive && !isSameProcess(target.pid, target.startTicks)) reason = "the process is not running";
  else if (check.type === "tcp") reason = await probeTcp(check.host, check.port!, check.timeoutMs);
  else if (check.type === "http") reason = await probeHttp(check.url!, check.expectedStatus, check.timeoutMs);
  else if (check.type === "command") reason = await probeCommand(check.command!, check.expectedExitCode, check.timeoutMs, { cwd: svc.cwd, env: target.env() });
  else reason = null;
  return { ok: reason === null, reason: reason && `health check failed: ${reason}`, durationMs: performance.now() - t0 };
}
