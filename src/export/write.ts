// Writing an export into --out: every file checked first (none is overwritten without --force), then each
// written to a temp file beside it and renamed into place, so a reader never sees half a unit or manifest.
import { writeAll } from "../runtime/write-all.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import { SvError, UsageError } from "../errors.ts";
import type { OutFile } from "./report.ts";

export type FileState = "created" | "overwritten" | "unchanged";

/** Write `files` under `dir`; without `force`, refuse (writing nothing) when any exists with other content. */
export function writeFiles(dir: string, files: OutFile[], force: boolean): { path: string; state: FileState }[] {
  const root = resolve(dir);
  if (existsSync(root) && !statSync(root).isDirectory()) throw new UsageError(`--out ${dir} is not a directory`, "name a directory (it is created when missing)");
  const plans = files.map((f) => {
    const path = resolve(root, f.name);
    if (!path.startsWith(root + sep)) throw new SvError(`internal: ${f.name} is outside ${root}`);
    if (!existsSync(path)) return { path, text: f.text, state: "created" as FileState };
    if (!statSync(path).isFile()) throw new SvError(`${path} exists and is not a file`, { hint: "move it away, or export into another directory", exitCode: 2 });
    return { path, text: f.text, state: (readFileSync(path, "utf8") === f.text ? "unchanged" : "overwritten") as FileState };
  });
  const clashes = plans.filter((p) => p.state === "overwritten");
  if (clashes.length && !force) {
    const list = clashes.slice(0, 3).map((p) => relative(process.cwd(), p.path) || p.path).join(", ");
    throw new SvError(`${clashes.length === 1 ? "1 file exists" : `${clashes.length} files exist`} with other content (${list}${clashes.length > 3 ? ", …" : ""}): nothing was written`, { hint: "rerun with --force to overwrite them, or export into another directory", exitCode: 2 });
  }
  const todo = plans.filter((p) => p.state !== "unchanged");
  try {
    writeAll(todo);
  } catch (e) {
    throw new SvError(`cannot write to ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: "check that the directory is writable", cause: e });
  }
  return plans.map((p) => ({ path: p.path, state: p.state }));
}
