// Writing the service files: every target checked before anything is written, each file written atomically
// (temp file, fsync, rename), a file that already holds the same bytes left alone.
import { writeAll } from "../runtime/write-all.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { SvError } from "../errors.ts";

export type WriteState = "created" | "updated" | "unchanged" | "exists";

export interface Planned {
  name: string;
  path: string;
  text: string;
  state: WriteState;
}

/** Where each file goes and what writing it would do: an existing services/NAME.yaml is the target too. */
export function planWrites(servicesDir: string, files: { name: string; text: string }[], force: boolean): Planned[] {
  return files.map(({ name, text }) => {
    const yaml = join(servicesDir, `${name}.yaml`);
    const path = !existsSync(join(servicesDir, `${name}.yml`)) && existsSync(yaml) ? yaml : join(servicesDir, `${name}.yml`);
    if (!existsSync(path)) return { name, path, text, state: "created" };
    if (!statSync(path).isFile()) throw new SvError(`${path} exists and is not a file`, { hint: "move it away, or import into another directory with --out" });
    const same = readFileSync(path, "utf8") === text;
    return { name, path, text, state: same ? "unchanged" : force ? "updated" : "exists" };
  });
}

/** Write every created or updated file: all temp files first, then one rename each, so a failure leaves the old files. */
export function commitWrites(servicesDir: string, plans: Planned[]): void {
  const todo = plans.filter((p) => p.state === "created" || p.state === "updated");
  if (todo.length === 0) return;
  try {
    writeAll(todo);
  } catch (e) {
    throw new SvError(`cannot write to ${servicesDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: "check that the directory is writable", cause: e });
  }
}
