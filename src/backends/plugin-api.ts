// What a backend plugin is written against. Import it with `import type`: a plugin needs nothing of sv at
// run time (the compiled sv imports the plugin's file; everything it may use of sv comes in `PluginHost`).
import type { Project } from "../config/schema.ts";
import type { SvError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import type { Backend } from "./backend.ts";

export type { Address, Backend, ExecRequest, ExecResult, Exit, ExitWatcher, Found, Handle, Inspection, LogAccess, StartRequest, Started, StopOptions, StopOutcome } from "./backend.ts";
export type { Project, Service } from "../config/schema.ts";
export type { Paths } from "../paths.ts";

/** What sv gives a plugin when it makes the project's backend. */
export interface PluginHost {
  /** The project's state dir, log and run paths. */
  paths: Paths;
  /** The loaded project (sv.yml's settings and every service). */
  project: Project;
  /** A backend of sv's own local processes (handles of kind "process"), for a plugin that wraps it. */
  local: Backend;
  /**
   * sv's error for what a user should read as one line (with `{ hint }`): an engine that cannot be reached,
   * a bad setting. The running sv's own class (a plugin's import of errors.ts would be another one); anything
   * else a backend throws is taken for a bug and printed whole.
   */
  SvError: typeof SvError;
}

/**
 * A plugin module's default export: `export default { kind: "nice", create: (host) => backend } satisfies BackendPlugin`.
 * `kind` tags the handles its backend records in the store (a word; not "process", "container" or "fake"),
 * and must be the backend's own `kind`. Plugins are asked before the built-in backends, in sv.yml's order.
 */
export interface BackendPlugin {
  kind: string;
  create(host: PluginHost): Backend;
}
