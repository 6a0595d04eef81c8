// Adoption: units a backend finds by itself (containers, by the project's labels) that the store does not
// know — its state dir was deleted, or a start was lost — are recorded, so status shows them and down
// stops them. Units whose service is gone become orphans like any other.
import type { Found } from "../backends/backend.ts";
import { SvError } from "../errors.ts";
import type { StoreState, Tx } from "../store/store.ts";
import { commit } from "./commit.ts";
import type { Ctx } from "./context.ts";
import { note, transition } from "./states.ts";

const ENDED = ["stopped", "error", "completed"];

/** The backends this project uses that can find their units: they run a defined service or a recorded unit. */
function discoverers(ctx: Ctx, state: StoreState) {
  const recorded = new Set(Object.values(state.units).map((u) => u.handle?.kind));
  return ctx.backends.all.filter((b) => b.discover && ([...ctx.project.services.values()].some((s) => b.runs(s)) || recorded.has(b.kind)));
}

/** Is `f` news to the store: a unit it does not have, or has as ended with nothing recorded to look at? */
function isUnknown(state: StoreState, f: Found): boolean {
  const unit = state.units[f.unit];
  if (!unit) return true;
  if (unit.handle !== null) return false;
  return ENDED.includes(unit.state);
}

function adopt(tx: Tx, f: Found): void {
  const unit = tx.unit(f.unit);
  if (!isUnknown(tx.state, f)) return;
  unit.handle = f.handle;
  unit.spec = f.spec;
  if (!f.alive) {
    // Ended or never started: kept only so that the next start or `sv down` removes it.
    tx.events.push(note(f.unit, unit, "found in the engine, not running (the store did not know it)"));
    return;
  }
  // Starting, owned by nobody: the next look (this refresh's) makes it running once its health check passes.
  unit.wanted = "up";
  unit.health = "unknown";
  unit.owner_pid = unit.owner_ticks = null;
  unit.started_at = new Date().toISOString();
  tx.events.push(transition(f.unit, unit, "starting", "adopted: found running in the engine (the store did not know it)"));
}

/** Record what the backends find that the store does not know. A backend that cannot be reached is warned about, never fatal. */
export async function adoptDiscovered(ctx: Ctx, state: StoreState): Promise<StoreState> {
  const found: Found[] = [];
  for (const b of discoverers(ctx, state)) {
    try {
      found.push(...(await b.discover!()).filter((f) => isUnknown(state, f)));
    } catch (e) {
      if (!(e instanceof SvError)) throw e;
      ctx.reporter.warn(e.message);
    }
  }
  if (found.length === 0) return state;
  return commit(ctx, (tx) => {
    for (const f of found) adopt(tx, f);
    return tx.state;
  });
}
