// Run work over a dependency graph: each node after its prerequisites, at most `maxParallel` at once.
// Each step is one lock-held transaction that records what finished and claims what may start next,
// so N nodes that move together cost one store write.

export interface Outcome {
  ok: boolean;
  message: string;
  skipped?: boolean;
  /** What `work` hands to `finish` (per-unit results). */
  data?: unknown;
}

export interface Prerequisite {
  name: string;
  hard: boolean;
  begun?: boolean;
}

export interface GraphRun<T, X> {
  nodes: string[];
  /**
   * Nodes that must finish before `node` may begin; `hard` ones must also succeed;
   * `begun` ones only need to have begun (depends_on condition: started).
   */
  prerequisites(node: string): Prerequisite[];
  maxParallel: number;
  /** Run `fn` under the store lock (one read-modify-write). */
  transact<R>(fn: (tx: X) => R): Promise<R>;
  /** In the first transaction, before anything else. */
  prepare?(tx: X): void;
  /** Under the lock: record finished nodes; may turn an outcome into a failure (CAS lost). */
  finish(tx: X, results: Map<string, Outcome>): Map<string, Outcome>;
  /** Under the lock: claim these nodes; per node what to wait for, or an outcome at once. */
  begin(tx: X, nodes: string[]): Map<string, T | Outcome>;
  /**
   * Outside the lock, for all nodes a step claimed at once: create what they need (seconds of I/O for
   * some backends), then `record` it in one transaction before any `work` begins.
   */
  create?(claims: Map<string, T>): Promise<unknown>;
  /** Under the lock: record what `create` made; per node what `work` gets, or an outcome at once. */
  record?(tx: X, created: unknown, claims: Map<string, T>): Map<string, T | Outcome>;
  /** `record` failed: undo what `create` made. */
  abandon?(created: unknown): Promise<void>;
  /** After `record` is written, before `work`: e.g. let the created units run. */
  recorded?(claims: Map<string, T | Outcome>): Promise<void>;
  /**
   * Outside the lock: wait for the node's process or probe. `idle()` says the rest is a plain wait (a
   * grace period) that should not hold one of the `maxParallel` slots.
   */
  work(node: string, claim: T, idle: () => void): Promise<Outcome>;
  /** Called as each node settles. */
  onSettled?(node: string, outcome: Outcome): void;
}

/** Results that land this soon after the first one share its store write. */
const BATCH_WINDOW_MS = 2;

function isOutcome(x: unknown): x is Outcome {
  return typeof x === "object" && x !== null && "ok" in x && "message" in x;
}

/** The create stage of one step: create outside the lock, record in one transaction, then `recorded`. */
async function createAndRecord<T, X>(run: GraphRun<T, X>, claims: Map<string, T | Outcome>): Promise<Map<string, T | Outcome>> {
  if (!run.create || !run.record) return claims;
  const pending = new Map([...claims].filter((e): e is [string, T] => !isOutcome(e[1])));
  if (pending.size === 0) return claims;
  const created = await run.create(pending);
  let recorded: Map<string, T | Outcome>;
  try {
    recorded = await run.transact((tx) => run.record!(tx, created, pending));
  } catch (e) {
    // Not recorded (the disk is full, the lock was lost): undo what was created, so nothing untracked runs.
    await run.abandon?.(created);
    throw e;
  }
  await run.recorded?.(recorded);
  return new Map([...claims].map(([node, c]) => [node, recorded.get(node) ?? c]));
}

/** Run the graph to the end; every node gets an outcome (skipped when a hard prerequisite failed). */
export async function runGraph<T, X>(run: GraphRun<T, X>): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const waiting = new Set(run.nodes);
  const inflight = new Map<string, Promise<void>>();
  /** In flight but only waiting: they hold no slot. */
  const idle = new Set<string>();
  /** Set when a node turned idle since the loop last looked; `wake` ends the loop's wait for it. */
  let woken = false;
  let wake: () => void = () => {};
  const begun = new Set<string>();
  let settled = new Map<string, Outcome>();
  let finished = new Map<string, Outcome>();
  const inGraph = new Set(run.nodes);
  const prerequisites = (node: string) => run.prerequisites(node).filter((p) => inGraph.has(p.name));
  const satisfied = (p: Prerequisite) => outcomes.has(p.name) || (p.begun === true && begun.has(p.name));
  const failedHard = (node: string) => prerequisites(node).find((p) => p.hard && outcomes.has(p.name) && !outcomes.get(p.name)!.ok);
  const isReady = (node: string) => failedHard(node) !== undefined || prerequisites(node).every(satisfied);

  const settle = (node: string, outcome: Outcome) => {
    outcomes.set(node, outcome);
    run.onSettled?.(node, outcome);
  };

  /** Skip what a failure dooms (until nothing changes: a skip dooms its own dependents), then pick what may start. */
  const pick = (): string[] => {
    for (let changed = true; changed; ) {
      changed = false;
      for (const node of waiting) {
        const failed = failedHard(node);
        if (!failed) continue;
        waiting.delete(node);
        settle(node, { ok: false, skipped: true, message: `skipped: ${failed.name} failed` });
        changed = true;
      }
    }
    // Until nothing changes: beginning a node can satisfy a `begun` prerequisite of another.
    const startable: string[] = [];
    for (let changed = true; changed; ) {
      changed = false;
      for (const node of waiting) {
        if (inflight.size - idle.size + startable.length >= run.maxParallel) return startable;
        if (!prerequisites(node).every(satisfied)) continue;
        startable.push(node);
        waiting.delete(node);
        begun.add(node);
        changed = true;
      }
    }
    return startable;
  };

  for (let first = true; ; first = false) {
    if (first || finished.size > 0 || [...waiting].some(isReady)) {
      const done = finished;
      finished = new Map();
      let claims = await run.transact((tx) => {
        if (first) run.prepare?.(tx);
        if (done.size > 0) for (const [node, outcome] of run.finish(tx, done)) settle(node, outcome);
        const startable = pick();
        return startable.length > 0 ? run.begin(tx, startable) : new Map<string, T | Outcome>();
      });
      claims = await createAndRecord(run, claims);
      for (const [node, claim] of claims) {
        if (isOutcome(claim)) settle(node, claim);
        else {
          inflight.set(
            node,
            run
              .work(node, claim, () => {
                idle.add(node);
                woken = true;
                wake();
              })
              .then(
                (o) => void settled.set(node, o),
                (e: Error) => void settled.set(node, { ok: false, message: e.message }),
              ),
          );
        }
      }
    }
    if (waiting.size === 0 && inflight.size === 0) break;
    if (inflight.size === 0) {
      if (![...waiting].some(isReady)) throw new Error(`bug: no progress possible for ${[...waiting].join(", ")}`);
      continue;
    }
    if (!woken) await Promise.race([...inflight.values(), new Promise<void>((r) => (wake = r))]);
    woken = false;
    await Bun.sleep(BATCH_WINDOW_MS);
    finished = settled;
    settled = new Map();
    for (const node of finished.keys()) {
      inflight.delete(node);
      idle.delete(node);
    }
  }
  return outcomes;
}
