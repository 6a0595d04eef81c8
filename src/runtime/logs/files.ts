// A log's files on disk: the current file and its rotated `.1`, `.2` … next to it.
import { existsSync } from "node:fs";

/** The n-th rotated file of a log: `api.log.1` is the newest. */
export function rotatedPath(path: string, n: number): string {
  return `${path}.${n}`;
}

/** A log and its rotated files that exist, oldest first, the current file last. */
export function logSequence(path: string): string[] {
  const files: string[] = [];
  for (let n = 1; existsSync(rotatedPath(path, n)); n++) files.unshift(rotatedPath(path, n));
  return existsSync(path) ? [...files, path] : files;
}

/** Does the unit have any log, current or rotated? */
export function hasLog(path: string): boolean {
  return existsSync(path) || existsSync(rotatedPath(path, 1));
}
