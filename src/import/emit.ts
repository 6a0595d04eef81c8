// A draft as the text of services/NAME.yml: a header saying where it came from and what did not map, then the
// keys in the SPEC's order; short lists of words inline. The same draft always gives the same bytes.
import { Document, isScalar, visit } from "yaml";
import type { Draft } from "./draft.ts";
import type { Unmapped } from "./report.ts";

/** Strings a YAML 1.1 reader would take for something else (yes, no, on, off, null …): always quoted. */
const AMBIGUOUS = /^(y|n|yes|no|on|off|true|false|null|~|)$/i;
/** A list of scalars this short (as text) is written inline: [sleep, "1000"]. */
const INLINE_WIDTH = 72;

export interface EmitOptions {
  format: string;
  /** The source file as the header names it (relative to the project root). */
  from: string;
  /** The unmapped entries of this service, each with its file as the header names it. */
  notes: Unmapped[];
}

/** The YAML text of one service file. */
export function emitService(draft: Draft, opts: EmitOptions): string {
  const doc = new Document(draft.toObject());
  visit(doc, {
    Seq(_, seq) {
      if (seq.items.every(isScalar) && seq.items.reduce((n, s) => n + String((s as { value: unknown }).value).length + 2, 2) <= INLINE_WIDTH) seq.flow = true;
    },
    Scalar(_, node) {
      if (typeof node.value === "string" && AMBIGUOUS.test(node.value)) node.type = "QUOTE_DOUBLE";
    },
  });
  const header = [`Imported by \`sv import ${opts.format}\` from ${opts.from} (${draft.origin.key}, line ${draft.origin.line}).`];
  if (opts.notes.length) {
    header.push("Not mapped:");
    for (const n of opts.notes) header.push(`  ${n.file === opts.from ? "line " : `${n.file}:`}${n.line}: ${n.key}: ${n.why}`);
  }
  doc.commentBefore = header.map((l) => ` ${l}`).join("\n");
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
