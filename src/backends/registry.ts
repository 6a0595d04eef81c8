// Which backend runs a service, and which one a recorded handle belongs to. Built-in backends and
// plugins' (backends/plugins.ts) are made the same way, by a factory; the engine only ever asks this registry.
import type { Project, Service } from "../config/schema.ts";
import { SvError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import type { Backend, Handle } from "./backend.ts";
import { createContainerBackend } from "./container/index.ts";
import { createLocalBackend } from "./local/index.ts";
import { createSshBackend } from "./ssh/index.ts";

/** Makes a project's backend; `project` gives what it needs of sv.yml (its name, `docker.host` …). */
export type BackendFactory = (paths: Paths, project: Project) => Backend;

export interface Backends {
  /** The backend that runs `svc`: the first whose `runs` accepts it (local processes come last). */
  for(svc: Service): Backend;
  /** The backend of a recorded handle; for a kind this sv does not have, one whose every look fails (`missingBackend`). */
  of(handle: Handle): Backend;
  all: readonly Backend[];
}

/** Built-in backends, most specific first; the local one accepts every service and so comes last. */
const BUILT_IN: BackendFactory[] = [createContainerBackend, createSshBackend, createLocalBackend];

/** The kinds sv's own backends (and the tests' fake) tag their handles with: no plugin may take one. */
export const BUILT_IN_KINDS: readonly string[] = ["container", "ssh", "process", "fake"];

/** The backends of a project; `extra` ones (plugins, in sv.yml's order; tests) are asked before the built-ins. */
export function createBackends(paths: Paths, project: Project, extra: BackendFactory[] = []): Backends {
  const all = [...extra, ...BUILT_IN].map((f) => f(paths, project));
  const byKind = new Map<string, Backend>();
  for (const b of all) {
    if (byKind.has(b.kind)) throw new Error(`bug: two backends of kind "${b.kind}"`);
    byKind.set(b.kind, b);
  }
  return {
    for: (svc) => all.find((b) => b.runs(svc))!,
    of: (handle) => byKind.get(handle.kind) ?? missingBackend(handle.kind),
    all,
  };
}

/**
 * The stand-in for units of a kind no backend here has (a plugin gone from sv.yml, a config that cannot be
 * loaded): like a backend that cannot be reached, it fails every look in one line, so nothing is taken for
 * dead or stopped — status shows what the store recorded, down leaves the unit stopping for a later sv.
 */
function missingBackend(kind: string): Backend {
  const why = `no "${kind}" backend in this sv (is the plugin that started it still in sv.yml's plugins?)`;
  const hint = `add the plugin whose kind is "${kind}" back to plugins: in sv.yml`;
  // A stop's failure is shown after the service's name already; every other look names the unit.
  const fail = async (unit?: string): Promise<never> => {
    throw new SvError(unit === undefined ? why : `${unit}: ${why}`, { hint });
  };
  return {
    kind,
    runs: () => false,
    start: (req) => fail(req.unit),
    inspect: (unit) => fail(unit),
    stop: () => fail(),
    kill: (unit) => fail(unit),
    reap: (unit) => fail(unit),
    exec: (req) => fail(req.unit),
    address: () => ({ host: "127.0.0.1" }),
    logs: { tail: async () => [], exists: async () => false, file: () => null, rotate: () => 0 },
  };
}
