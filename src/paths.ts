// Where things live: the project root, and the state, log and event files under it.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "./errors.ts";

export interface Paths {
  root: string;
  stateDir: string;
  storeFile: string;
  lockFile: string;
  logDir: string;
  eventsFile: string;
}

/** The nearest ancestor of `cwd` holding sv.yml or services/; `override` (--root or SV_ROOT) wins. */
export function findRoot(cwd: string, override?: string): string {
  if (override) {
    const root = resolve(cwd, override);
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw new UsageError(`project root ${root} is not a directory`, "check --root or SV_ROOT");
    }
    if (!existsSync(join(root, "sv.yml")) && !existsSync(join(root, "services"))) {
      throw new UsageError(`no sv project at ${root}: it has neither sv.yml nor services/`, "check --root or SV_ROOT");
    }
    return root;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "sv.yml")) || existsSync(join(dir, "services"))) return dir;
    if (dirname(dir) === dir) break;
  }
  throw new UsageError(
    `no sv project found in ${cwd} or any parent directory`,
    "create services/NAME.yml (or sv.yml), or pass --root DIR",
  );
}

/** The paths of one project, with its state directory (sv.yml `state_dir`, default `.sv`). */
export function projectPaths(root: string, stateDir = ".sv"): Paths {
  const dir = resolve(root, stateDir);
  return {
    root,
    stateDir: dir,
    storeFile: join(dir, "state", "services.yml"),
    lockFile: join(dir, "state", "lock"),
    logDir: join(dir, "log"),
    eventsFile: join(dir, "events.jsonl"),
  };
}

export function logFile(paths: Paths, unit: string): string {
  return join(paths.logDir, `${unit}.log`);
}
