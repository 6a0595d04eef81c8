// Slow path only: re-parse a YAML (or JSON) file with the `yaml` package, which keeps source positions, to turn
// key paths into line:col, find syntax errors with their position, and find duplicate keys. Bun.YAML keeps none of that.
import type { Document, Node as YamlNode, Pair } from "yaml";
import type { Seg } from "./key-path.ts";

export interface Located {
  line: number;
  col: number;
}

export interface Duplicate {
  path: Seg[];
  at: Located;
  first: Located;
}

export interface Locator {
  /** Syntax errors, first the one that caused the others. */
  syntaxErrors: (Located & { message: string })[];
  /** How many YAML documents (`---`) the file holds, and where the second starts. */
  documents: number;
  secondDocument: Located;
  duplicates: Duplicate[];
  /** Position of the node at `path`: its value, or its key when `atKey`; a missing node gives its parent's key. */
  locate(path: Seg[], atKey?: boolean): Located;
}

type Ranged = { range?: [number, number, number] | null } | null | undefined;
const start = (node: unknown): number | undefined => (node as Ranged)?.range?.[0];

/** Parse `text` keeping positions. */
export async function parseWithPositions(text: string): Promise<Locator> {
  const { parseAllDocuments, LineCounter, isMap, isSeq, isScalar } = await import("yaml");
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: false, prettyErrors: false }) as Document.Parsed[];
  const at = (offset: number): Located => lineCounter.linePos(offset);
  const doc = docs[0];
  const keyOf = (pair: Pair): string => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key));

  const syntaxErrors = docs.flatMap((d) =>
    d.errors.map((e) => {
      const message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "").replace(/\.$/, "");
      return { ...at(e.pos[0]), message: message.charAt(0).toLowerCase() + message.slice(1) };
    }),
  );

  function locate(path: Seg[], atKey = false): Located {
    let node: unknown = doc?.contents;
    let parent = start(node) ?? 0;
    for (const [i, seg] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        // The last of equal keys: Bun.YAML, which the fast path uses, keeps the last one.
        const pair = node.items.findLast((p) => keyOf(p) === String(seg));
        if (!pair) break;
        const keyStart = start(pair.key) ?? parent;
        // An empty value (`key:`) has no place of its own: point at its key.
        const empty = pair.value === null || (isScalar(pair.value) && pair.value.value === null && !pair.value.source);
        if (last) return at(atKey || empty ? keyStart : (start(pair.value) ?? keyStart));
        [node, parent] = [pair.value, keyStart];
      } else if (isSeq(node)) {
        // A string segment in a list names an item by its value (depends_on: [db] -> depends_on.db).
        const item = typeof seg === "number" ? node.items[seg] : node.items.find((it) => isScalar(it) && String(it.value) === seg);
        if (!item) break;
        if (last) return at(start(item) ?? parent);
        [node, parent] = [item, start(item) ?? parent];
      } else break;
    }
    return at(parent);
  }

  /** Every key that repeats an earlier key of the same mapping, with both positions. */
  function findDuplicates(node: unknown, path: Seg[], out: Duplicate[]): Duplicate[] {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = keyOf(pair);
        const keyStart = start(pair.key) ?? 0;
        const first = seen.get(key);
        if (first !== undefined && key !== "<<") out.push({ path: [...path, key], at: at(keyStart), first: at(first) });
        else seen.set(key, keyStart);
        findDuplicates(pair.value, [...path, key], out);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => findDuplicates(item as YamlNode, [...path, i], out));
    return out;
  }

  return {
    syntaxErrors,
    documents: docs.length,
    secondDocument: at(start(docs[1]?.contents) ?? docs[1]?.range?.[0] ?? 0),
    duplicates: doc ? findDuplicates(doc.contents, [], []) : [],
    locate,
  };
}
