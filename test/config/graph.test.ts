// The dependency graph, table-driven: closures, Kahn batches, cycle paths.
import { describe, expect, test } from "bun:test";
import { batches, closure, type Edges, findCycle } from "../../src/config/graph.ts";

/** Edges from "a: b c" lines: a comes after b and c. */
function graph(spec: Record<string, string>): Edges {
  return new Map(Object.entries(spec).map(([n, deps]) => [n, new Set(deps.split(" ").filter(Boolean))]));
}

describe("closure", () => {
  const g = graph({ api: "db cache", worker: "api", db: "", cache: "", lone: "", loop1: "loop2", loop2: "loop1" });
  const next = (n: string) => g.get(n) ?? [];
  test.each([
    ["a leaf is its own closure", ["db"], ["db"]],
    ["direct dependencies", ["api"], ["api", "cache", "db"]],
    ["transitive dependencies", ["worker"], ["api", "cache", "db", "worker"]],
    ["several starts, shared nodes once", ["worker", "api", "lone"], ["api", "cache", "db", "lone", "worker"]],
    ["a cycle terminates", ["loop1"], ["loop1", "loop2"]],
    ["no starts, nothing", [], []],
    ["an unknown name is still included", ["ghost"], ["ghost"]],
  ] as [string, string[], string[]][])("%s", (_, start, expected) => {
    expect([...closure(start, next)].sort()).toEqual(expected);
  });
});

describe("batches", () => {
  test.each([
    ["nothing", {}, [], []],
    ["independent nodes run together, sorted", { c: "", a: "", b: "" }, ["c", "a", "b"], [["a", "b", "c"]]],
    ["a chain runs one by one", { a: "", b: "a", c: "b" }, ["a", "b", "c"], [["a"], ["b"], ["c"]]],
    ["a diamond", { db: "", cache: "", api: "db cache", worker: "api" }, ["worker", "api", "cache", "db"], [["cache", "db"], ["api"], ["worker"]]],
    ["a node waits for its deepest dependency", { a: "", b: "a", c: "a b" }, ["a", "b", "c"], [["a"], ["b"], ["c"]]],
    ["edges to nodes outside the set are ignored", { api: "db", worker: "api" }, ["api", "worker"], [["api"], ["worker"]]],
    ["nodes missing from the edge map have no prerequisites", { b: "a" }, ["a", "b"], [["a"], ["b"]]],
    ["a cycle is left out (no batch can hold it)", { x: "", a: "b", b: "a", c: "x" }, ["x", "a", "b", "c"], [["x"], ["c"]]],
  ] as [string, Record<string, string>, string[], string[][]][])("%s", (_, spec, nodes, expected) => {
    expect(batches(nodes, graph(spec))).toEqual(expected);
  });
});

describe("findCycle", () => {
  test.each([
    ["an empty graph", {}, undefined],
    ["a chain", { a: "", b: "a", c: "b" }, undefined],
    ["a diamond", { db: "", cache: "", api: "db cache", worker: "api cache" }, undefined],
    ["a self-loop", { a: "a" }, ["a", "a"]],
    ["two nodes", { a: "b", b: "a" }, ["a", "b", "a"]],
    ["three nodes, entered from outside", { entry: "a", a: "b", b: "c", c: "a" }, ["a", "b", "c", "a"]],
    ["the first cycle in name order", { x: "y", y: "x", a: "b", b: "a" }, ["a", "b", "a"]],
    ["edges to unknown names are not cycles", { a: "ghost" }, undefined],
  ] as [string, Record<string, string>, string[] | undefined][])("%s", (_, spec, expected) => {
    expect(findCycle(graph(spec))).toEqual(expected);
  });
});
