// The start protocol, which no interruption can lose: under the lock, record the intent (starting, owned
// by us, no handle); outside it, the backend creates the unit behind a gate; under the lock, record the
// handle if the intent is still ours (else undo the creation); only then open the gate. An sv killed at
// any instant leaves either nothing created, or a created unit the store knows, or a gate that closes by
// itself (its creator is gone) so the unit never runs.
import type { Started } from "../backends/backend.ts";
import type { Service } from "../config/schema.ts";
import { SvError } from "../errors.ts";
import { readState, type Tx, type Unit } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { unitSpec } from "./definition.ts";
import { recordEnd } from "./ended.ts";
import { runHook } from "./hooks.ts";
import { type Launched, awaitStarted, type UnitResult } from "./ready.ts";
import { type SvEvent, transition } from "./states.ts";
import { instanceOf, instancePortOf, serviceOf, unitEnv } from "./units.ts";

export type { UnitResult } from "./ready.ts";

/** A unit whose start this sv has claimed (recorded as starting, owned by us, nothing created yet). */
export interface Intent {
  unit: string;
  svc: Service;
}

/** What creating a claimed unit gave: the gated unit, or why it could not be created. */
export type Created = { intent: Intent; started: Started; at: number } | { intent: Intent; error: string };

/** Kill what is left of units that ended (stray children holding a port, exit records) before they start again. */
export async function reapLeftovers(ctx: Ctx, units: (Unit | undefined)[], names: string[]): Promise<void> {
  await Promise.all(
    units.map(async (u, i) => {
      if (!u?.handle || ["running", "starting", "stopping"].includes(u.state)) return;
      await ctx.backends
        .of(u.handle)
        .reap(names[i]!, u.handle)
        .catch((e) => (e instanceof SvError ? ctx.reporter.warn(e.message) : Promise.reject(e)));
    }),
  );
}

/** Does starting this service need work outside the lock first (a delay or a pre_start hook)? */
export function isDeferred(svc: Service): boolean {
  return svc.startDelayMs > 0 || svc.hooks.pre_start !== undefined;
}

/** Under the lock: record the intent to start `unitName` (its ended handle is forgotten: reaped before). */
export function claimStart(ctx: Ctx, tx: Tx, svc: Service, unitName: string, reason: string, countRestart = false): Intent {
  const unit = tx.unit(unitName);
  if (unit.state === "stopping") tx.events.push(transition(unitName, unit, "stopped", "process gone"));
  unit.handle = null;
  unit.spec = unitSpec(ctx, svc, unitName);
  unit.started_at = new Date().toISOString();
  unit.health = "unknown";
  unit.health_failures = 0;
  unit.health_failed_at = null;
  unit.exit_code = null;
  unit.next_restart_at = null;
  unit.owner_pid = ctx.self.pid;
  unit.owner_ticks = ctx.self.ticks;
  if (countRestart) unit.restarts += 1;
  // A start that is not a policy restart (sv up, or wanted up but stopped) begins the backoff afresh.
  else {
    unit.failures = 0;
    unit.gave_up_at = null;
  }
  if (unit.state === "starting") unit.since = unit.started_at;
  else tx.events.push(transition(unitName, unit, "starting", reason));
  return { unit: unitName, svc };
}

/** Outside the lock: create claimed units, gated, all at once. */
export function createUnits(ctx: Ctx, intents: Intent[]): Promise<Created[]> {
  return Promise.all(
    intents.map(async (intent): Promise<Created> => {
      const instance = instanceOf(intent.unit);
      try {
        const started = await ctx.backends.for(intent.svc).start({
          unit: intent.unit,
          svc: intent.svc,
          instance,
          env: unitEnv(ctx, intent.svc, instance),
          inherited: ctx.inheritedEnv,
          port: instancePortOf(intent.svc, instance),
          spec: unitSpec(ctx, intent.svc, intent.unit),
        });
        return { intent, started, at: performance.now() };
      } catch (e) {
        return { intent, error: (e as Error).message };
      }
    }),
  );
}

/** Is this still our intent, with nothing recorded as created? */
function isOurIntent(ctx: Ctx, unit: Unit): boolean {
  return unit.state === "starting" && unit.handle === null && unit.owner_pid === ctx.self.pid;
}

/**
 * Under the lock: record what was created, if the intent still holds; a failure to create is the end
 * of the start. Returns per unit what to release (or, for a lost intent, what to undo), or the failure.
 */
export function recordCreated(ctx: Ctx, tx: Tx, created: Created[]): Map<string, { launched: Launched } | { lost: Started } | { failure: string }> {
  const out = new Map<string, { launched: Launched } | { lost: Started } | { failure: string }>();
  for (const c of created) {
    const unit = tx.unit(c.intent.unit);
    if (!isOurIntent(ctx, unit)) {
      out.set(c.intent.unit, "started" in c ? { lost: c.started } : { failure: `${c.intent.unit} was changed by another sv while starting (now ${unit.state})` });
      continue;
    }
    if ("error" in c) {
      recordEnd(tx, c.intent.svc, c.intent.unit, { clean: false, reason: c.error });
      out.set(c.intent.unit, { failure: c.error });
      continue;
    }
    unit.handle = c.started.handle;
    const backend = ctx.backends.for(c.intent.svc);
    out.set(c.intent.unit, { launched: { unit: c.intent.unit, handle: c.started.handle, backend, startedAt: c.at, exited: c.started.exited, release: c.started.release } });
  }
  return out;
}

/** The record of what was created failed: undo all of it (the gates never open). */
export async function abandonCreated(created: Created[]): Promise<void> {
  await Promise.all(created.map((c) => ("started" in c ? c.started.abort() : undefined)));
}

/** After the record is written: open the gates of what was recorded, undo what was not. */
export async function releaseAll(records: Iterable<{ launched: Launched } | { lost: Started } | { failure: string }>): Promise<void> {
  await Promise.all(
    [...records].map((r) => {
      if ("lost" in r) return r.lost.abort();
      if (!("launched" in r)) return;
      const l = r.launched;
      // The grace period and start_timeout count from here: what came before (the lock) is not the service's time.
      return l.release?.().then(
        () => void (l.startedAt = performance.now()),
        (e: Error) => void (l.releaseError = e.message),
      );
    }),
  );
}

/** Under the lock: record a unit's result if it is still the unit we started; else why not. */
export function recordUnitResult(ctx: Ctx, tx: Tx, r: UnitResult): string | null {
  const unit = tx.unit(r.unit);
  if (unit.state !== "starting" || JSON.stringify(unit.handle) !== JSON.stringify(r.handle)) {
    return `${r.unit} was changed by another sv while starting (now ${unit.state})`;
  }
  const svc = ctx.project.services.get(serviceOf(r.unit));
  if (unit.handle && r.pid !== null) unit.handle = { ...unit.handle, pid: r.pid };
  unit.start_duration_s = r.durationMs / 1000;
  if (r.unborn) {
    // Never ran (its gate closed): not a failure of the service; the next start begins afresh.
    unit.handle = null;
    unit.owner_pid = unit.owner_ticks = null;
    return `${r.unit}: ${r.reason}`;
  }
  if (r.to === "running") {
    unit.owner_pid = unit.owner_ticks = null;
    unit.health = "healthy";
    unit.last_error = null;
    unit.gave_up_at = null;
    tx.events.push(transition(r.unit, unit, "running", r.reason));
    return null;
  }
  recordEnd(tx, svc, r.unit, { clean: r.to === "completed", reason: r.reason, exitCode: r.exitCode });
  // A finished multi-shot run is history, not a wish: reconcile must not keep judging it (a failed run its
  // policy retries stays wanted until that retry ends).
  if (r.run && (unit.state as string) !== "restarting") unit.wanted = "down";
  return null;
}

/**
 * The whole start of one unit outside a batch: start_delay, pre_start, then the protocol (only if
 * `guard` still holds for the fresh record: nobody else started it meanwhile), wait, record.
 * Returns null when the guard failed (someone else is on it).
 */
export async function launchUnit(
  ctx: Ctx,
  svc: Service,
  unitName: string,
  opts: { reason: string; countRestart: boolean; guard: (unit: Unit) => boolean; events?: SvEvent[] },
): Promise<UnitResult | null> {
  /** Run `fn` under the lock, handing the events it recorded to the caller. */
  const record = <T>(fn: (tx: Tx) => T) =>
    commit(ctx, (tx) => {
      const out = fn(tx);
      opts.events?.push(...tx.events);
      return out;
    });
  if (svc.startDelayMs > 0) await Bun.sleep(svc.startDelayMs);
  await reapLeftovers(ctx, [readState(ctx.paths).units[unitName]], [unitName]);
  const hookError = await runHook(ctx, svc, unitName, "pre_start");
  const claim = await record((tx) => {
    const unit = tx.unit(unitName);
    if (!opts.guard(unit)) return null;
    if (hookError !== null) {
      recordEnd(tx, svc, unitName, { clean: false, reason: hookError });
      return { failure: hookError, intent: undefined };
    }
    return { intent: claimStart(ctx, tx, svc, unitName, opts.reason, opts.countRestart), failure: undefined };
  });
  if (claim === null) return null;
  const fail = (reason: string): UnitResult => ({ unit: unitName, handle: null, pid: null, to: "failed", reason, exitCode: null, durationMs: 0 });
  if (!claim.intent) return fail(claim.failure!);
  const created = await createUnits(ctx, [claim.intent]);
  const records = await record((tx) => recordCreated(ctx, tx, created)).catch(async (e) => {
    await abandonCreated(created);
    throw e;
  });
  await releaseAll(records.values());
  const rec = records.get(unitName)!;
  if (!("launched" in rec)) return "lost" in rec ? null : fail(rec.failure);
  const result = await awaitStarted(ctx, svc, rec.launched);
  const lost = await record((tx) => recordUnitResult(ctx, tx, result));
  return lost ? { ...result, to: "failed", reason: lost } : result;
}
