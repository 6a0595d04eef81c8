// Loading a project: from the cache when nothing it was built from changed (cache.ts), else the full load
// (load-full.ts, imported only then: valibot and the schemas cost more than the whole cached path).
import { isAbsolute } from "node:path";
import { readCachedProject, writeCachedProject } from "./cache.ts";
import type { Env } from "./interpolate.ts";
import type { Project } from "./schema.ts";

export type { Problem } from "./problems.ts";

export interface LoadOptions {
  /** The full load with every check, never the cache (sv validate): also finds duplicate keys; costs the `yaml` package. */
  strict?: boolean;
}

/** Load and validate every definition of the project at `root`; throws a ConfigError listing every problem. */
export async function loadProject(root: string, env: Env = process.env, opts: LoadOptions = {}): Promise<Project> {
  const cacheable = isAbsolute(root);
  const cached = cacheable && opts.strict !== true ? readCachedProject(root, env) : undefined;
  if (cached) return cached;
  const { loadFull } = await import("./load-full.ts");
  const { project, inputs } = await loadFull(root, env, { strict: opts.strict });
  if (cacheable) writeCachedProject(project, inputs);
  return project;
}
