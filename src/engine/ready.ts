// Waiting for a released unit to be ready: a oneshot exits 0; a simple service passes its health check
// (or, without one, stays alive for a grace period). Failing probes never fail a live unit before its
// start_timeout; only its end does.
import type { Backend, Exit, Handle } from "../backends/backend.ts";
import type { Service } from "../config/schema.ts";
import { runProbe } from "../probes/index.ts";
import type { Ctx } from "./context.ts";
import { endMessage } from "./ending.ts";
import { probeRunner, runHook } from "./hooks.ts";
import { instanceOf, instancePortOf } from "./units.ts";

/** A process without a health check counts as ready once it has stayed alive this long. */
export const PROCESS_GRACE_MS = 150;
/** Readiness polling while starting: fast, so dependents start as soon as possible. */
const FAST_POLL_MS = 10;

export interface UnitResult {
  unit: string;
  /** The handle the result is about (the record is only changed while it still holds it). */
  handle: Handle | null;
  pid: number | null;
  /** running / completed; "failed": the start failed (the policy decides between restarting and error). */
  to: "running" | "completed" | "failed";
  reason: string;
  exitCode: number | null;
  durationMs: number;
  /** A run of a multi-shot service. */
  run?: boolean;
  /** The start never ran the command (created, but not recorded or released): not a failure of the service. */
  unborn?: boolean;
}

/** A unit that runs (or is about to): what awaitReady watches. */
export interface Launched {
  unit: string;
  handle: Handle;
  backend: Backend;
  /** performance.now() when it was created (or adopted). */
  startedAt: number;
  /** Settles when it ends, if this sv is its parent. */
  exited?: Promise<Exit>;
  /** Opens its gate (a unit this sv created; an adopted one has none). */
  release?: () => Promise<void>;
  /** Why opening the gate failed (a container engine refusing to start it): the start failed. */
  releaseError?: string;
}

/** The start_timeout of a service (default: the project's default_timeout). */
export function startTimeoutOf(ctx: Ctx, svc: Service): number {
  return svc.startTimeoutMs ?? ctx.project.defaultTimeoutMs;
}

/** Wait until a released unit is ready, ends, or runs out of start_timeout (then it is killed). */
export async function awaitReady(ctx: Ctx, svc: Service, l: Launched): Promise<UnitResult> {
  const t0 = l.startedAt;
  const timeoutMs = startTimeoutOf(ctx, svc);
  const deadline = t0 + timeoutMs;
  const oneshot = svc.type === "oneshot" || svc.type === "multi-shot";
  let pid: number | null = typeof l.handle.pid === "number" ? l.handle.pid : null;
  const result = (to: UnitResult["to"], reason: string, exit?: Exit): UnitResult => ({
    unit: l.unit,
    handle: l.handle,
    pid,
    to,
    reason,
    exitCode: exit?.code ?? null,
    durationMs: performance.now() - t0,
    run: svc.type === "multi-shot",
  });
  const check = svc.healthCheck;
  const maxPollMs = check.type === "command" ? Math.min(check.intervalMs, 100) : Math.min(check.intervalMs, FAST_POLL_MS);
  // Most services are ready within milliseconds: look again after 1 ms, then back off to the cap.
  let pollMs = check.type === "command" ? maxPollMs : 1;
  let ended = false;
  l.exited?.then(() => (ended = true));
  let last: string | null = null;
  if (l.releaseError !== undefined) return result("failed", l.releaseError);
  const target = { host: l.backend.address(svc, instanceOf(l.unit)).host, port: instancePortOf(svc, instanceOf(l.unit)), run: probeRunner(ctx, svc, l.unit) };
  for (;;) {
    const seen = await l.backend.inspect(l.unit, l.handle);
    if (seen.pid !== null) pid = seen.pid;
    if (!seen.alive) {
      if (seen.unborn) return { ...result("failed", `${l.unit} never ran (its start was abandoned)`), unborn: true };
      if (oneshot && seen.exit?.code === 0) return result("completed", "exited with code 0", seen.exit);
      return result("failed", endMessage(l.unit, { kind: "exit", exit: seen.exit }, !oneshot), seen.exit);
    }
    if (!oneshot) {
      if (check.type === "process") {
        if (performance.now() - t0 >= PROCESS_GRACE_MS) return result("running", "started");
      } else {
        const probe = await runProbe(svc, { ...target, alive: true });
        if (probe.ok && !ended) return result("running", "health check passed");
        if (!probe.ok) last = probe.reason;
      }
    }
    if (performance.now() >= deadline) {
      await l.backend.kill(l.unit, l.handle);
      return result("failed", endMessage(l.unit, { kind: "start-timeout", timeoutMs, last, oneshot }));
    }
    const wait = oneshot ? Math.min(Math.max(pollMs, 1), 50) : pollMs;
    await Promise.race([Bun.sleep(Math.max(0, Math.min(wait, deadline - performance.now()))), ...(l.exited ? [l.exited] : [])]);
    pollMs = Math.min(pollMs * 2, oneshot ? 50 : maxPollMs);
  }
}

/** Ready, then post_start: a failing post_start hook fails the start (and stops the unit). */
export async function awaitStarted(ctx: Ctx, svc: Service, l: Launched): Promise<UnitResult> {
  const r = await readyThenPostStart(ctx, svc, l);
  if (r.to !== "failed" || r.unborn || !l.backend.startFailed) return r;
  // Undo what the start changed beyond the unit (a package's new release): the reason says so.
  const undone = await l.backend.startFailed(l.unit, l.handle).catch((e: Error) => `and undoing it failed: ${e.message}`);
  return undone ? { ...r, reason: `${r.reason}; ${undone}` } : r;
}

async function readyThenPostStart(ctx: Ctx, svc: Service, l: Launched): Promise<UnitResult> {
  const r = await awaitReady(ctx, svc, l);
  if (r.to === "failed" || svc.hooks.post_start === undefined) return r;
  const why = await runHook(ctx, svc, r.unit, "post_start");
  if (why === null) return r;
  if (r.to === "running") await l.backend.kill(l.unit, l.handle);
  return { ...r, to: "failed", reason: why };
}
