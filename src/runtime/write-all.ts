// Writing a set of files all or nothing: every one to a temp file beside it (fsynced) first, then one rename
// each, then an fsync of each directory. A failure before the renames leaves every old file as it was and
// removes the temp files. (sv export's --out and sv import's services/ both write this way.)
import { basename, dirname, join } from "node:path";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";

export function writeAll(files: { path: string; text: string }[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true });
      const temp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}.tmp`);
      const fd = openSync(temp, "wx", 0o644);
      temps.push(temp);
      try {
        writeSync(fd, f.text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    files.forEach((f, i) => renameSync(temps[i]!, f.path));
    temps.length = 0;
    for (const d of new Set(files.map((f) => dirname(f.path)))) {
      const fd = openSync(d, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  } catch (e) {
    for (const t of temps) {
      try {
        unlinkSync(t);
      } catch {}
    }
    throw e;
  }
}
