// Config problems: collected while loading, then turned into `file:line:col: path: message` lines in a stable order.
import { isAbsolute, relative } from "node:path";
import type * as v from "valibot";
import { echo } from "./echo.ts";
import type { Seg } from "./key-path.ts";
import type { Locator } from "./positions.ts";

/** A Problem's path is a Seg[]: its users take both from here. */
export type { Seg };

/** One problem, before it is given a line and column. */
export interface Problem {
  /** Absolute path or URL of the file it is in. */
  file: string;
  /** Key path inside the file (empty: the file as a whole). */
  path: Seg[];
  message: string;
  /** Point at the key itself (unknown keys), not at its value. */
  atKey?: boolean;
  /** A position known already (env files, duplicate keys); otherwise found from `path`. */
  at?: { line: number; col: number };
  /** A YAML syntax error; the yaml package supplies message and position when it can. */
  syntax?: boolean;
  /** The document is not a mapping; reworded when the file holds several documents. */
  shape?: boolean;
  /** About the file as a whole, which has no text to point into (a FIFO, a file too big): `file: message`. */
  unplaced?: boolean;
}


/** valibot issues of the value at `prefix` in `file` -> problems. */
export function issuesToProblems(file: string, prefix: Seg[], issues: v.BaseIssue<unknown>[]): Problem[] {
  return issues.map((issue) => {
    const items = issue.path ?? [];
    const path = [...prefix, ...items.map((p) => p.key as Seg)];
    const atKey = items.at(-1)?.origin === "key";
    if (atKey && issue.type !== "raw_check" && issue.received === "undefined") return { file, path, message: "is required" };
    return { file, path, atKey, message: issue.message };
  });
}

/** A function giving the (cached) positions of a file whose text was read; undefined for files never read. */
export type Positions = (file: string) => Promise<Locator | undefined>;

/** A cache of positions over the texts read while loading; imports the yaml package on first use only. */
export function positionsOf(texts: Map<string, string>): Positions {
  const cache = new Map<string, Promise<Locator>>();
  return async (file) => {
    const text = texts.get(file);
    if (text === undefined) return undefined;
    if (!cache.has(file)) cache.set(file, import("./positions.ts").then((m) => m.parseWithPositions(text)));
    return cache.get(file);
  };
}

interface Placed {
  rank: number;
  line: number;
  col: number;
  text: string;
}

/** Every problem as `file:line:col: path: message`, ordered by file (in load order), then position. */
export async function formatProblems(root: string, problems: Problem[], texts: Map<string, string>, positions: Positions): Promise<string[]> {
  const ranks = new Map([...texts.keys()].map((file, i) => [file, i]));
  const placed: Placed[] = [];
  for (const p of problems) {
    if (!ranks.has(p.file)) ranks.set(p.file, ranks.size);
    const name = displayName(root, p.file);
    if (p.unplaced) {
      placed.push({ rank: ranks.get(p.file)!, line: 0, col: 0, text: `${name}: ${p.message}` });
      continue;
    }
    const { line, col, message } = place(p, await positions(p.file));
    const path = p.path.length > 0 && !p.syntax ? `${p.path.map((seg) => echo(String(seg))).join(".")}: ` : "";
    placed.push({ rank: ranks.get(p.file)!, line, col, text: `${name}:${line}:${col}: ${path}${message}` });
  }
  placed.sort((a, b) => a.rank - b.rank || a.line - b.line || a.col - b.col);
  return [...new Set(placed.map((p) => p.text))];
}

/** A file as problems name it: relative to the root when inside it, else absolute; URLs as they are. */
export function displayName(root: string, file: string): string {
  if (/^https?:/i.test(file)) return file;
  const rel = relative(root, file);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

/** The line, column and final wording of one problem. */
function place(p: Problem, loc: Locator | undefined): { line: number; col: number; message: string } {
  if (p.at) return { ...p.at, message: p.message };
  if (!loc) return { line: 1, col: 1, message: p.message };
  if (p.syntax) {
    const e = loc.syntaxErrors[0];
    return e ? { line: e.line, col: e.col, message: `invalid YAML: ${e.message}` } : { line: 1, col: 1, message: `invalid YAML: ${p.message}` };
  }
  if (p.shape && loc.documents > 1) {
    return { ...loc.secondDocument, message: `expected one YAML document, found ${loc.documents} (separated by ---)` };
  }
  return { ...loc.locate(p.path, p.atKey), message: p.message };
}
