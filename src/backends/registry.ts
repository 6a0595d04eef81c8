// Which backend runs a service, and which one a recorded handle belongs to. Adding a backend means
// adding its factory here (or a plugin's): the engine only ever asks this registry.
import type { Project, Service } from "../config/schema.ts";
import type { Paths } from "../paths.ts";
import type { Backend, Handle } from "./backend.ts";
import { createContainerBackend } from "./container/index.ts";
import { createLocalBackend } from "./local/index.ts";

/** Makes a project's backend; `project` gives what it needs of sv.yml (its name, `docker.host` …). */
export type BackendFactory = (paths: Paths, project: Project) => Backend;

export interface Backends {
  /** The backend that runs `svc`: the first whose `runs` accepts it (local processes come last). */
  for(svc: Service): Backend;
  /** The backend of a recorded handle (null for a kind this sv does not know). */
  of(handle: Handle): Backend | null;
  all: readonly Backend[];
}

/** Built-in backends, most specific first; the local one accepts every service and so comes last. */
const BUILT_IN: BackendFactory[] = [createContainerBackend, createLocalBackend];

/** The backends of a project; `extra` ones (plugins, tests) are asked before the built-ins. */
export function createBackends(paths: Paths, project: Project, extra: BackendFactory[] = []): Backends {
  const all = [...extra, ...BUILT_IN].map((f) => f(paths, project));
  const byKind = new Map(all.map((b) => [b.kind, b]));
  return {
    for: (svc) => all.find((b) => b.runs(svc))!,
    of: (handle) => byKind.get(handle.kind) ?? null,
    all,
  };
}
