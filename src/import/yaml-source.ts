// A YAML source with the line of every key: the value as plain data, and lineOf(path) for the unmapped list.
import { type Document, LineCounter, type Node, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from "yaml";
import { UsageError } from "../errors.ts";
import type { Source } from "./source.ts";

export type Seg = string | number;

export interface YamlSource {
  value: unknown;
  /** The line (1-based) of the key or item at `path`; the nearest enclosing one's when it has none of its own. */
  lineOf(path: Seg[]): number;
}

/** Parse a YAML source (merge keys on, aliases bounded); a syntax error is a UsageError at its line. */
export function parseYaml(source: Source, what: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter: lines, merge: true, uniqueKeys: false, prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    const at = lines.linePos(error.pos[0]);
    const message = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new UsageError(`${source.shown}:${at.line}:${at.col}: not valid YAML: ${message}`, `is it a ${what}? fix the YAML, or check the format word`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new UsageError(`${source.shown}: cannot read the YAML: ${(e as Error).message}`, "too many aliases, or an alias to nothing");
  }
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : lines.linePos(offset).line);
  return {
    value,
    lineOf(path) {
      let node: unknown = doc.contents;
      let line = lineAt((doc.contents as Node | null)?.range?.[0]);
      for (const seg of path) {
        const found = child(doc, node, seg);
        if (!found) break;
        line = lineAt(found.at);
        node = found.node;
      }
      return line;
    },
  };
}

/** The node under `seg` of a mapping (its own keys first, then what `<<` merges in) or a sequence, with where it is written. */
function child(doc: Document, node: unknown, seg: Seg, depth = 0): { node: unknown; at?: number } | undefined {
  if (depth > 20) return undefined;
  if (isAlias(node)) return child(doc, node.resolve(doc), seg, depth + 1);
  if (isSeq(node)) {
    const item = typeof seg === "number" ? node.items[seg] : undefined;
    return item === undefined ? undefined : { node: item, at: (item as Node).range?.[0] };
  }
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === String(seg)) return { node: pair.value, at: (pair.key as Node).range?.[0] };
  }
  for (const pair of node.items) {
    if (!isPair(pair) || !isScalar(pair.key) || pair.key.value !== "<<") continue;
    const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
    for (const s of sources) {
      const found = child(doc, s, seg, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}
