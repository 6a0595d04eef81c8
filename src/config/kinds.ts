// What a parsed YAML value is: the words error messages use for it, and the mapping test every stage needs.
// Kept apart from fields.ts so the cache's fast path can use it without loading valibot.

/** What a YAML value is, in the words an error message uses. */
export type Kind = "string" | "number" | "boolean" | "list" | "mapping" | "null";

export function kindOf(value: unknown): Kind {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "list";
  if (typeof value === "object") return "mapping";
  return typeof value === "number" || typeof value === "bigint" ? "number" : typeof value === "boolean" ? "boolean" : "string";
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
