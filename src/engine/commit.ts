// withState for the engine: after the write, fire the on_failure actions its events call for.
import { type Tx, withState } from "../store/store.ts";
import type { Ctx } from "./context.ts";
import { fireFailureActions, isFailureEvent } from "./hooks.ts";
import type { SvEvent } from "./states.ts";
import { serviceOf } from "./units.ts";

/** lock -> fn -> write -> unlock, then (outside the lock) the failure actions of the new events. */
export async function commit<T>(ctx: Ctx, fn: (tx: Tx) => T): Promise<T> {
  let events: SvEvent[] = [];
  const result = await withState(
    ctx.paths,
    (tx) => {
      const r = fn(tx);
      events = tx.events;
      return r;
    },
    { waitMs: ctx.lockWaitMs },
  );
  const failing = events.filter((e) => isFailureEvent(ctx, e, serviceOf(e.service)));
  if (failing.length > 0) {
    const problems = await Promise.all(
      failing.map((e) => {
        const svc = ctx.project.services.get(serviceOf(e.service));
        return svc ? fireFailureActions(ctx, svc, e) : [];
      }),
    );
    for (const p of problems.flat()) ctx.reporter.warn(p);
  }
  return result;
}
