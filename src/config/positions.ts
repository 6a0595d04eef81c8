// Error path only: re-parse a YAML file with the `yaml` package to turn a key path into line:col.
import type { Document, LineCounter as LineCounterT } from "yaml";

export interface Located {
  line: number;
  col: number;
}

type Seg = string | number;

/** Parse `text` keeping positions; returns a locator for key paths and any syntax errors. */
export async function parseWithPositions(text: string) {
  const { parseDocument, LineCounter, isMap, isSeq, isScalar } = await import("yaml");
  const lineCounter: LineCounterT = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const errors = doc.errors.map((e) => {
    const [line = 1, col = 1] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [];
    return { line, col, message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "") };
  });

  /** Position of the node at `path`; `atKey` points at the key itself (unknown keys), else at the value. */
  function locate(path: Seg[], atKey = false): Located {
    let node: unknown = doc.contents;
    let offset = (doc.contents as { range?: [number] } | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) break;
        const keyRange = (pair.key as { range?: [number] } | null)?.range;
        const valueRange = (pair.value as { range?: [number] } | null)?.range;
        offset = (last && atKey ? keyRange?.[0] : (valueRange?.[0] ?? keyRange?.[0])) ?? offset;
        node = pair.value;
      } else if (isSeq(node)) {
        // A string segment in a list names an item by its value (depends_on: [db] -> depends_on.db).
        const item = (typeof seg === "number" ? node.items[seg] : node.items.find((it) => isScalar(it) && String(it.value) === seg)) as
          | { range?: [number] }
          | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else break;
    }
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  }

  return { doc, errors, locate };
}
