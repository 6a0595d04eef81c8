// What every importer gets: the source, the new project's root (relative paths are rewritten against it), and
// the unmapped list; and what it returns.
import { existsSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { Draft } from "./draft.ts";
import type { Unmapped } from "./report.ts";
import { type Source, shownPath } from "./source.ts";

export class ImportContext {
  readonly unmapped: Unmapped[] = [];
  constructor(
    readonly source: Source,
    /** The root of the project the services are written into. */
    readonly root: string,
    /** The working directory, for showing other files' paths. */
    readonly cwd: string,
  ) {}

  /** The source file's directory: where relative paths in it start. */
  get dir(): string {
    return dirname(this.source.path);
  }

  /** Record something that did not map, at `line` of `file` (default: the source). */
  skip(line: number, key: string, why: string, service?: string, file: Source = this.source): void {
    this.unmapped.push({ file: file.shown, line, key, why, ...(service ? { service } : {}) });
  }

  /** A path written in the source (relative to `from`, default its dir) as sv reads it: relative to the new root. */
  path(p: string, from = this.dir): string {
    if (isAbsolute(p) || p.startsWith("$")) return p;
    const rel = relative(this.root, resolve(from, p));
    if (rel === "") return ".";
    return rel.startsWith("..") ? rel : `./${rel}`;
  }

  /** The source's own directory as a cwd relative to the new root; undefined when it is the root itself. */
  sourceCwd(): string | undefined {
    const p = this.path(".");
    return p === "." ? undefined : p;
  }

  /**
   * compose and process-compose read a `.env` next to the file for its ${VAR}s; sv reads them from its environment
   * only. Said once, at the .env, when there is one.
   */
  noteDotenv(tool: string): void {
    const file = resolve(this.dir, ".env");
    if (!existsSync(file)) return;
    this.unmapped.push({ file: shownPath(file, this.cwd), line: 1, key: ".env", why: `${tool} reads it for the file's \${VAR}s; sv takes them from its environment (export them before sv up, or write the values in)` });
  }

  /** Does a path written in the source exist? */
  exists(p: string, from = this.dir): boolean {
    return existsSync(resolve(from, p));
  }
}

/** What an importer returns: the services in source order; the context holds the unmapped list. */
export interface Imported {
  services: Draft[];
}

export type Importer = (ctx: ImportContext) => Imported;
