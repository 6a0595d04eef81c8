// Dependency graph: closures, Kahn ordering into parallel batches, cycle paths. Pure.

/** A graph as name -> names it must come after (its dependencies, plus after/before ordering). */
export type Edges = Map<string, Set<string>>;

/** Every name reachable from `start` through `next`, including `start` itself. */
export function closure(start: Iterable<string>, next: (name: string) => Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const n of next(name)) if (!seen.has(n)) stack.push(n);
  }
  return seen;
}

/** Kahn's algorithm restricted to `nodes`: batches whose members may run in parallel, in order. */
export function batches(nodes: Iterable<string>, edges: Edges): string[][] {
  const set = new Set(nodes);
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const n of set) {
    const deps = [...(edges.get(n) ?? [])].filter((d) => set.has(d));
    indegree.set(n, deps.length);
    for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), n]);
  }
  const out: string[][] = [];
  let ready = [...set].filter((n) => indegree.get(n) === 0).sort();
  while (ready.length > 0) {
    out.push(ready);
    const next: string[] = [];
    for (const n of ready) {
      for (const m of dependents.get(n) ?? []) {
        const left = indegree.get(m)! - 1;
        indegree.set(m, left);
        if (left === 0) next.push(m);
      }
    }
    ready = next.sort();
  }
  return out;
}

/** One cycle as a path `[a, b, a]`, or undefined when the graph is acyclic. */
export function findCycle(edges: Edges): string[] | undefined {
  const color = new Map<string, "grey" | "black">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    color.set(n, "grey");
    stack.push(n);
    for (const d of [...(edges.get(n) ?? [])].sort()) {
      if (color.get(d) === "grey") return [...stack.slice(stack.indexOf(d)), d];
      if (!color.has(d) && edges.has(d)) {
        const found = visit(d);
        if (found) return found;
      }
    }
    stack.pop();
    color.set(n, "black");
    return undefined;
  };
  for (const n of [...edges.keys()].sort()) {
    if (!color.has(n)) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return undefined;
}
