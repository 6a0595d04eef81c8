// Cyclic YAML aliases (`description: &r [*r]`): Bun.YAML.parse returns an object that contains itself, which every
// later walk (interpolation, validation, the cache) would follow forever. Found once, right after parsing.
import type { Seg } from "./key-path.ts";

/** The key path of the first alias that refers to a node containing it; undefined when `data` is a tree (or a DAG). */
export function findCycle(data: unknown): Seg[] | undefined {
  const onPath = new Set<object>();
  const done = new Set<object>(); // walked whole without a cycle: a shared node (an alias) is not walked again
  const path: Seg[] = [];
  const walk = (node: unknown): boolean => {
    if (typeof node !== "object" || node === null || done.has(node)) return false;
    if (onPath.has(node)) return true;
    onPath.add(node);
    const entries: [Seg, unknown][] = Array.isArray(node) ? node.map((item, i) => [i, item]) : Object.entries(node);
    for (const [key, item] of entries) {
      path.push(key);
      if (walk(item)) return true;
      path.pop();
    }
    onPath.delete(node);
    done.add(node);
    return false;
  };
  return walk(data) ? path : undefined;
}
