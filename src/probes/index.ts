// Run a service's health check once: dispatch by type, with timing. Where the unit runs is the caller's
// business: it says whether the unit is alive, where it is reached, and how to run a command there.
import type { HealthCheck, Service } from "../config/schema.ts";
import { probeCommand, type RunCommand } from "./command.ts";
import { probeHttp } from "./http.ts";
import { probeTcp } from "./tcp.ts";

export type { RunCommand } from "./command.ts";

export interface ProbeResult {
  ok: boolean;
  /** Why it failed; null when ok. */
  reason: string | null;
  durationMs: number;
}

/** What the probe needs of the unit. */
export interface ProbeTarget {
  /** The unit is alive (the caller has just looked). */
  alive: boolean;
  /** Where a tcp check connects when it names no host, and the port the unit serves (instance ports). */
  host: string;
  port?: number;
  /** Run a command check where the unit runs. */
  run: RunCommand;
}

/** Run `svc`'s health check against `target` once. */
export async function runProbe(svc: Service, target: ProbeTarget, check: HealthCheck = svc.healthCheck): Promise<ProbeResult> {
  const t0 = performance.now();
  let reason: string | null;
  if (!target.alive) reason = "the process is not running";
  else if (check.type === "tcp") reason = await probeTcp(check.host === "127.0.0.1" ? target.host : check.host, tcpPort(svc, check, target), check.timeoutMs);
  else if (check.type === "http") reason = await probeHttp(check.url!, check.expectedStatus, check.timeoutMs);
  else if (check.type === "command") reason = await probeCommand(check.command!, check.expectedExitCode, check.timeoutMs, target.run);
  else reason = null;
  return { ok: reason === null, reason: reason && `health check failed: ${reason}`, durationMs: performance.now() - t0 };
}

/** A check on the service's own port follows the instance (port + i); an explicit other port stays. */
function tcpPort(svc: Service, check: HealthCheck, target: ProbeTarget): number {
  return check.port === svc.port && target.port !== undefined ? target.port : check.port!;
}
