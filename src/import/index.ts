// sv import: read another tool's file, map it to service definitions, and plan (or make) the writes.
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { UsageError, didYouMean } from "../errors.ts";
import { importCompose } from "./compose.ts";
import { ImportContext, type Importer } from "./context.ts";
import { emitService } from "./emit.ts";
import { importProcessCompose } from "./process-compose.ts";
import { importProcfile } from "./procfile.ts";
import type { Unmapped } from "./report.ts";
import { readSource } from "./source.ts";
import { importSupervisord } from "./supervisord.ts";
import { isRecord } from "./values.ts";
import { type Planned, planWrites } from "./write.ts";

export { commitWrites, type Planned } from "./write.ts";
export { formatUnmapped, type Unmapped } from "./report.ts";

/** The format words, what each reads (for messages), and its importer. */
export const FORMATS: Record<string, { what: string; run: Importer }> = {
  compose: { what: "compose file", run: importCompose },
  "process-compose": { what: "process-compose file", run: importProcessCompose },
  procfile: { what: "Procfile", run: importProcfile },
  supervisord: { what: "supervisord config", run: importSupervisord },
};

/** The format of a format word (any case), or a UsageError with the closest one. */
export function formatOf(word: string | undefined): string {
  const list = Object.keys(FORMATS).join(", ");
  if (!word) throw new UsageError("sv import needs a format and a file", `sv import ${Object.keys(FORMATS).join("|")} FILE`);
  const format = word.toLowerCase();
  if (Object.hasOwn(FORMATS, format)) return format;
  const guess = didYouMean(format, [...Object.keys(FORMATS), "docker-compose", "supervisor", "process_compose"]);
  const target = guess === "docker-compose" ? "compose" : guess === "supervisor" ? "supervisord" : guess === "process_compose" ? "process-compose" : guess;
  throw new UsageError(`unknown format "${word}"`, target ? `did you mean \`sv import ${target}\`? (formats: ${list})` : `the formats are ${list}`);
}

export interface ImportPlan {
  format: string;
  /** The source as shown to the user. */
  source: string;
  root: string;
  servicesDir: string;
  plans: Planned[];
  unmapped: Unmapped[];
}

/** Read and map `file`, and plan the writes into `root`/services; nothing is written here. */
export function planImport(opts: { format: string; file: string; root: string; cwd: string; force: boolean }): ImportPlan {
  const { what, run } = FORMATS[opts.format]!;
  const source = readSource(resolve(opts.cwd, opts.file), opts.cwd, what);
  const ctx = new ImportContext(source, opts.root, opts.cwd);
  const { services } = run(ctx);
  // In file order, then line order: the order a reader goes through the source.
  const order = new Map<string, number>();
  for (const u of ctx.unmapped) if (!order.has(u.file)) order.set(u.file, u.file === source.shown ? -1 : order.size);
  ctx.unmapped.sort((a, b) => order.get(a.file)! - order.get(b.file)! || a.line - b.line);
  const servicesDir = join(opts.root, "services");
  const inline = inlineNames(opts.root);
  for (const s of services) if (inline.has(s.name)) throw new UsageError(`${s.name} is already defined in ${join(opts.root, "sv.yml")} (services:)`, "remove it there first, or import into another project with --out");
  const fromRoot = (shown: string) => relative(opts.root, resolve(opts.cwd, shown)) || shown;
  const files = services.map((draft) => ({
    name: draft.name,
    text: emitService(draft, {
      format: opts.format,
      from: fromRoot(draft.origin.file),
      notes: ctx.unmapped.filter((u) => u.service === draft.name).map((u) => ({ ...u, file: fromRoot(u.file) })),
    }),
  }));
  services.forEach((draft, i) => assertRoundTrip(draft.name, files[i]!.text, draft.toObject()));
  return { format: opts.format, source: source.shown, root: opts.root, servicesDir, plans: planWrites(servicesDir, files, opts.force), unmapped: ctx.unmapped };
}

/** Names defined inline in the target project's sv.yml services: (a file of the same name would be a duplicate). */
function inlineNames(root: string): Set<string> {
  const file = join(root, "sv.yml");
  if (!existsSync(file)) return new Set();
  try {
    const settings = Bun.YAML.parse(readFileSync(file, "utf8"));
    return new Set(isRecord(settings) && isRecord(settings.services) ? Object.keys(settings.services) : []);
  } catch {
    return new Set();
  }
}

/** What sv's own YAML reader makes of the text must be what was meant: a bug here must not reach a user's file. */
function assertRoundTrip(name: string, text: string, meant: Record<string, unknown>): void {
  if (!Bun.deepEquals(Bun.YAML.parse(text), meant)) throw new Error(`bug: the text of services/${name}.yml does not read back as its definition`);
}
