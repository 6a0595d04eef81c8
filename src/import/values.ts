// Small readers of parsed source values, shared by the YAML importers.
import type { Seg } from "./yaml-source.ts";

export const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** A key path as shown in the unmapped list: `services.api.ports[1]`. */
export function keyOf(path: Seg[]): string {
  return path.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}

/** A scalar as text (what a tool that reads it as a string would see); undefined for anything else. */
export function scalarText(value: unknown): string | undefined {
  return typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined;
}

/** `environment:` as a list of `KEY=VALUE` (or `KEY`) or a mapping -> entries [key, value, index-or-key]; null value: named only. */
export function envEntries(value: unknown): [string, unknown, Seg][] {
  if (Array.isArray(value)) {
    return value.flatMap((item, i): [string, unknown, Seg][] => {
      const text = scalarText(item);
      if (text === undefined) return [];
      const eq = text.indexOf("=");
      return eq === -1 ? [[text.trim(), null, i]] : [[text.slice(0, eq).trim(), text.slice(eq + 1), i]];
    });
  }
  if (isRecord(value)) return Object.entries(value).map(([k, v]) => [k, v, k]);
  return [];
}
