// ${VAR} expansion in every string of a definition: ${VAR}, ${VAR:-default} (unset or empty), ${VAR-default} (unset), $$ for "$".
import { isRecord } from "./kinds.ts";
import { echo } from "./echo.ts";
import type { Seg } from "./problems.ts";

export type Env = Record<string, string | undefined>;
type Report = (path: Seg[], message: string) => void;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** How deep ${...} may nest in a default: finding each closing brace scans what follows, so depth n costs n scans. */
export const MAX_NESTING = 32;

/** `value` with every string expanded from `env`; problems (unset variable, bad syntax) go to `report` with their path. */
export function interpolate(value: unknown, env: Env, report: Report, path: Seg[] = []): unknown {
  if (typeof value === "string") return value.includes("$") ? expand(value, env, (message) => report(path, message)) : value;
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, report, [...path, i]));
  // x- keys are ignored by the schema (anchors live there): their strings are left alone too.
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, item]) => [k, k.startsWith("x-") ? item : interpolate(item, env, report, [...path, k])]));
  }
  return value;
}

/** The names of the variables every ${...} in `value` reads, defaults' included, sorted. */
export function variablesIn(value: unknown, found = new Set<string>()): string[] {
  if (typeof value === "string") {
    for (const m of value.replaceAll("$$", "").matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) found.add(m[1]!);
  } else if (Array.isArray(value)) {
    for (const item of value) variablesIn(item, found);
  } else if (isRecord(value)) {
    for (const [k, item] of Object.entries(value)) if (!k.startsWith("x-")) variablesIn(item, found);
  }
  return [...found].sort();
}

/** One string, expanded; a default may itself hold ${...}. */
export function expand(text: string, env: Env, report: (message: string) => void): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "$" || (text[i + 1] !== "$" && text[i + 1] !== "{")) {
      out += c;
    } else if (text[i + 1] === "$") {
      out += "$";
      i++;
    } else {
      const end = closingBrace(text, i + 2);
      if (end === TOO_DEEP) {
        report(`"\${" nested more than ${MAX_NESTING} deep`);
        return out + text.slice(i);
      }
      if (end === -1) {
        report(`unterminated "\${" (write $$ for a literal $)`);
        return out + text.slice(i);
      }
      out += substitute(text.slice(i + 2, end), env, report);
      i = end;
    }
  }
  return out;
}

const TOO_DEEP = -2;

/** Index of the `}` closing a `${` whose body starts at `from`, skipping nested ${...}; -1 if none, TOO_DEEP past MAX_NESTING. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      [depth, i] = [depth + 1, i + 1];
      if (depth >= MAX_NESTING) return TOO_DEEP;
    }
    else if (text[i] === "}" && depth-- === 0) return i;
  }
  return -1;
}

/** The value of one `NAME`, `NAME:-default` or `NAME-default` reference. */
function substitute(body: string, env: Env, report: (message: string) => void): string {
  const m = /^([^:-]*)(:?-)?([\s\S]*)$/.exec(body)!;
  const [, name = "", op, fallback = ""] = m;
  if (!NAME.test(name) || (op === undefined && fallback !== "")) {
    report(`invalid reference "\${${echo(body)}}" (write \${NAME} or \${NAME:-default})`);
    return "";
  }
  const raw = env[name];
  const value = typeof raw === "string" ? raw : undefined; // not an inherited toString or constructor
  if (op === ":-" ? value !== undefined && value !== "" : value !== undefined) return value!;
  if (op !== undefined) return expand(fallback, env, report);
  report(`\${${echo(name)}} is not set`);
  return "";
}

/** `env` as seen through a recorder: every variable looked up lands in `seen`, with its value (undefined: unset). */
export function recordingEnv(env: Env, seen: Map<string, string | undefined>): Env {
  return new Proxy(env, {
    get(target, name) {
      if (typeof name !== "string") return undefined;
      const raw = target[name];
      const value = typeof raw === "string" ? raw : undefined;
      if (!seen.has(name)) seen.set(name, value);
      return value;
    },
  });
}
