// Run work over a dependency graph: each node after its prerequisites, at most `maxParallel` at once,
// with lock-held begin/finish steps batched so N nodes that move together cost one store write.

export interface Outcome {
  ok: boolean;
  message: string;
  skipped?: boolean;
  /** What `work` hands to `finish` (per-unit results). */
  data?: unknown;
}

export interface GraphRun<T> {
  nodes: string[];
  /**
   * Nodes that must finish before `node` may begin; `hard` ones must also succeed;
   * `begun` ones only need to have begun (depends_on condition: started).
   */
  prerequisites(node: string): Prerequisite[];
  maxParallel: number;
  /** Under the lock: claim these nodes; return per node what to wait for (or an outcome at once). */
  begin(nodes: string[]): Promise<Map<string, T | Outcome>>;
  /** Outside the lock: wait for the node's process or probe. */
  work(node: string, claim: T): Promise<Outcome>;
  /** Under the lock: record finished nodes; may turn an outcome into a failure (CAS lost). */
  finish(results: Map<string, Outcome>): Promise<Map<string, Outcome>>;
  /** Called as each node settles. */
  onSettled?(node: string, outcome: Outcome): void;
}

export interface Prerequisite {
  name: string;
  hard: boolean;
  begun?: boolean;
}

function isOutcome(x: unknown): x is Outcome {
  return typeof x === "object" && x !== null && "ok" in x && "message" in x;
}

/** Run the graph to the end; every node gets an outcome (skipped when a hard prerequisite failed). */
export async function runGraph<T>(run: GraphRun<T>): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const waiting = new Set(run.nodes);
  const inflight = new Map<string, Promise<void>>();
  const settled = new Map<string, Outcome>();
  const begun = new Set<string>();
  const satisfied = (p: Prerequisite) => outcomes.has(p.name) || (p.begun === true && begun.has(p.name));

  const settle = (node: string, outcome: Outcome) => {
    outcomes.set(node, outcome);
    run.onSettled?.(node, outcome);
  };

  while (waiting.size > 0 || inflight.size > 0) {
    const startable: string[] = [];
    let skippedAny = false;
    for (const node of [...waiting]) {
      const pre = run.prerequisites(node).filter((p) => run.nodes.includes(p.name));
      const failed = pre.find((p) => p.hard && outcomes.has(p.name) && !outcomes.get(p.name)!.ok);
      if (failed) {
        waiting.delete(node);
        settle(node, { ok: false, skipped: true, message: `skipped: ${failed.name} failed` });
        skippedAny = true;
        continue;
      }
      if (pre.every(satisfied) && inflight.size + startable.length < run.maxParallel) startable.push(node);
    }
    if (startable.length > 0) {
      for (const n of startable) {
        waiting.delete(n);
        begun.add(n);
      }
      const claims = await run.begin(startable);
      for (const node of startable) {
        const claim = claims.get(node)!;
        if (isOutcome(claim)) {
          settle(node, claim);
          continue;
        }
        inflight.set(
          node,
          run.work(node, claim).then(
            (o) => void settled.set(node, o),
            (e: Error) => void settled.set(node, { ok: false, message: e.message }),
          ),
        );
      }
      continue;
    }
    // A skip dooms its own dependents too, and they may have been looked at before it: look again.
    if (skippedAny) continue;
    if (inflight.size === 0) {
      if (waiting.size > 0) throw new Error(`bug: no progress possible for ${[...waiting].join(", ")}`);
      continue;
    }
    await Promise.race(inflight.values());
    // Let every already-settled promise land, so one store write covers them all.
    await Promise.resolve();
    const batch = new Map(settled);
    settled.clear();
    for (const node of batch.keys()) inflight.delete(node);
    for (const [node, outcome] of await run.finish(batch)) settle(node, outcome);
  }
  return outcomes;
}
