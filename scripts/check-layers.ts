// Layer check: every relative import in src/**/*.ts must point down (or sideways) in this order, and no
// files may import each other in a cycle. Exit 1, listing the offenders, when one does.
//
//   main.ts                 entry: picks a command
//   commands/               one file per sv command
//   export/ import/         sv export and sv import: a project as another engine's configuration, and back
//   output/                 the only place that prints; renders what the engine reports (so it may import
//                           engine types), and only main.ts and commands/ import it
//   observe/api/            the HTTP API: engine operations served over HTTP, started by `sv watch --listen`
//   observe/                read-side helpers (events.ts, metrics.ts): the store read with the engine's vocabulary
//   engine/                 decide and do; asks backends and probes
//   backends/ probes/       where a unit runs, whether it is ready
//   store/                  the locked state file
//   config/ runtime/        what the user wrote; the OS boundary
//   errors.ts paths.ts      imported by everything
//
// A file may import its own layer and any layer below it, except what FORBIDDEN names (engine/ never
// touches runtime/ itself: it asks a backend). Type-only and dynamic imports count like any other.
// ALLOWED lists the violations known today, each with who removes it; they print as warnings.
//
// Usage: bun scripts/check-layers.ts [SRC_DIR]   (default: src/ next to this script)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** Top first. A path ending in `/` is a folder; the longest matching entry places a file. */
const LAYERS: string[][] = [
  ["main.ts"],
  ["commands/"],
  ["export/", "import/"],
  ["output/"],
  ["observe/api/"],
  ["observe/"],
  ["engine/"],
  ["backends/", "probes/"],
  ["store/"],
  ["config/", "runtime/"],
  ["errors.ts", "paths.ts"],
];

/** Imports that go down the order and are still not allowed. */
const FORBIDDEN: { from: string; to: string; why: string }[] = [{ from: "engine/", to: "runtime/", why: "the engine asks a backend; runtime/ is the backends' OS boundary" }];

/** Known violations, printed as warnings instead of failing. Remove an entry once its import is gone. */
const ALLOWED: { from: string; to: string; why: string }[] = [
];

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** Does `pattern` (a file, or a folder ending in `/`) cover `file`? */
const covers = (pattern: string, file: string): boolean => (pattern.endsWith("/") ? file.startsWith(pattern) : file === pattern);

/** The layer index of a file (0 is the top), or -1 when no layer claims it. */
function layerOf(file: string): number {
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach((patterns, i) => {
    for (const p of patterns) if (covers(p, file) && p.length > bestLength) [best, bestLength] = [i, p.length];
  });
  return best;
}

/** Every .ts file under `dir`, relative to it, sorted. */
function sourceFiles(dir: string, sub = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, sub)).sort()) {
    const rel = sub ? `${sub}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...sourceFiles(dir, rel));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/** The relative imports of `file` that stay inside `src` (static, type-only, re-exports, import(), require()). */
function importsOf(src: string, file: string): Edge[] {
  const text = readFileSync(join(src, file), "utf8");
  const lineAt = (pos: number) => text.slice(0, pos).split("\n").length;
  const edges: Edge[] = [];
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    if (!ref.fileName.startsWith(".")) continue;
    const to = relative(src, resolve(src, dirname(file), ref.fileName));
    if (to.startsWith("..")) continue; // package.json, completions/: not layered
    edges.push({ from: file, to, line: lineAt(ref.pos) });
  }
  return edges;
}

/** Groups of files that import each other (strongly connected components of more than one file, or a self import). */
function cycles(files: string[], edges: Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!next.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      group.push(w);
      if (w === v) break;
    }
    if (group.length > 1 || next.get(v)!.includes(v)) out.push(group.sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

/** One path around a cycle group, from its first file back to it: `a.ts -> b.ts -> a.ts`. */
function cyclePath(group: string[], edges: Edge[]): string[] {
  const members = new Set(group);
  const start = group[0]!;
  const seen = new Set<string>();
  const walk = (at: string, path: string[]): string[] | null => {
    for (const e of edges) {
      if (e.from !== at || !members.has(e.to)) continue;
      if (e.to === start) return [...path, start];
      if (seen.has(e.to)) continue;
      seen.add(e.to);
      const found = walk(e.to, [...path, e.to]);
      if (found) return found;
    }
    return null;
  };
  return walk(start, [start]) ?? group;
}

export interface Report {
  errors: string[];
  warnings: string[];
  notes: string[];
}

/** Check the tree under `src`: errors fail the check, warnings are allowed violations. */
export function checkLayers(src: string, shown = "src"): Report {
  const files = sourceFiles(src);
  const edges = files.flatMap((f) => importsOf(src, f));
  const report: Report = { errors: [], warnings: [], notes: [] };
  const at = (e: Edge) => `${shown}/${e.from}:${e.line} imports ${shown}/${e.to}`;
  const used = new Set<(typeof ALLOWED)[number]>();
  for (const f of files) if (layerOf(f) === -1) report.errors.push(`${shown}/${f} is in no layer (add its folder to LAYERS in scripts/check-layers.ts)`);
  for (const e of edges) {
    const from = layerOf(e.from);
    const to = layerOf(e.to);
    if (from === -1 || to === -1) continue;
    const forbidden = FORBIDDEN.find((r) => covers(r.from, e.from) && covers(r.to, e.to));
    const why = to < from ? `${LAYERS[to]!.join(" ")} is above ${LAYERS[from]!.join(" ")}` : forbidden?.why;
    if (!why) continue;
    const allowed = ALLOWED.find((a) => covers(a.from, e.from) && covers(a.to, e.to));
    if (allowed) {
      used.add(allowed);
      report.warnings.push(`${at(e)}: ${why} (allowed: ${allowed.why})`);
    } else report.errors.push(`${at(e)}: ${why}`);
  }
  for (const group of cycles(files, edges)) report.errors.push(`import cycle: ${cyclePath(group, edges).map((f) => `${shown}/${f}`).join(" -> ")}`);
  for (const a of ALLOWED) if (!used.has(a)) report.notes.push(`ALLOWED ${a.from} -> ${a.to} matches no import any more: remove it`);
  return report;
}

if (import.meta.main) {
  const arg = process.argv[2];
  const src = resolve(arg ?? join(import.meta.dir, "../src"));
  const report = checkLayers(src, arg ? arg.replace(/\/+$/, "") : "src");
  for (const n of report.notes) console.log(`note: ${n}`);
  for (const w of report.warnings) console.log(`warning: ${w}`);
  for (const e of report.errors) console.error(`error: ${e}`);
  const order = LAYERS.map((l) => l.join(" ")).join(" > ");
  if (report.errors.length > 0) {
    console.error(`${report.errors.length} layer problem${report.errors.length === 1 ? "" : "s"} (order: ${order})`);
    process.exit(1);
  }
  console.log(`layers ok${report.warnings.length ? `, ${report.warnings.length} allowed violation${report.warnings.length === 1 ? "" : "s"}` : ""} (order: ${order})`);
}
