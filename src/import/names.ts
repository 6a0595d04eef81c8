// Service names: another tool's names ("Web.1", "api_server") as sv names ([a-z0-9][a-z0-9_-]{0,62}), kept unique.
import { NAME_PATTERN } from "../config/schema.ts";

/** The sv name for `raw`: lower-cased, other characters as "-", at most 63 characters. */
export function toName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 63).replace(/-+$/, "");
  return name || "service";
}

/** Source names -> unique sv names, in the order they are added. */
export class NameMap {
  private readonly byRaw = new Map<string, string>();
  private readonly used = new Set<string>();

  /** The sv name of `raw`, and why it differs when it does. */
  add(raw: string): { name: string; why?: string } {
    let name = toName(raw);
    for (let n = 2; this.used.has(name); n++) name = `${toName(raw).slice(0, 60)}-${n}`;
    this.byRaw.set(raw, name);
    this.used.add(name);
    if (name === raw) return { name };
    const why = NAME_PATTERN.test(raw) ? `the name "${raw}" is taken (names are unique in sv); named "${name}"` : `"${raw}" is not an sv name ([a-z0-9][a-z0-9_-]{0,62}); named "${name}"`;
    return { name, why };
  }

  /** The sv name given to `raw`, if it was added. */
  get(raw: string): string | undefined {
    return this.byRaw.get(raw);
  }
}
