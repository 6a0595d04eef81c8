// Reading the file to import: bounded in size, text only, every failure one line with a hint.
import { readFileSync, statSync } from "node:fs";
import { relative } from "node:path";
import { UsageError } from "../errors.ts";

/** Larger than any real configuration file: refused before it is read. */
export const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

export interface Source {
  /** Absolute path. */
  path: string;
  /** As shown in messages: relative to the working directory when under it. */
  shown: string;
  text: string;
}

/** How a path is shown: relative to `cwd` when it is under it or its parent, else absolute. */
export function shownPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  if (rel === "") return ".";
  return rel.startsWith("../..") ? path : rel;
}

/** The text of `path`, or a UsageError saying why it cannot be read (`what` names the format, for the hint). */
export function readSource(path: string, cwd: string, what: string): Source {
  const shown = shownPath(path, cwd);
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new UsageError(`${shown} is a directory, not a ${what}`, `name the file itself, e.g. ${shown.replace(/\/$/, "")}/${exampleName(what)}`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${shown}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`, `check the path of the ${what}`);
  }
  if (size > MAX_SOURCE_BYTES) throw new UsageError(`${shown} is ${size} bytes, too large to be a ${what} (at most ${MAX_SOURCE_BYTES})`, "check the file name");
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `check the permissions of the ${what}`);
  }
  if (bytes.includes(0)) throw new UsageError(`${shown} is not a text file, so not a ${what}`, "check the file name and the format word");
  return { path, shown, text: bytes.toString("utf8").replace(/^\uFEFF/, "") };
}

function exampleName(what: string): string {
  return { "compose file": "docker-compose.yml", "process-compose file": "process-compose.yaml", Procfile: "Procfile", "supervisord config": "supervisord.conf" }[what] ?? "FILE";
}
