// What every engine operation is given: the project, its paths, who we are, and where progress goes.
import { resolve } from "node:path";
import { defaultProjectName } from "../config/container.ts";
import { loadProject } from "../config/load.ts";
import { ConfigError, SvError } from "../errors.ts";
import type { Project } from "../config/schema.ts";
import { findRoot, type Paths, projectPaths } from "../paths.ts";
import { loadPlugins } from "../backends/plugins.ts";
import { type Backends, createBackends } from "../backends/registry.ts";
import { DEFAULT_LOCK_WAIT_MS } from "../store/store.ts";
import { whoAmI } from "../store/owner.ts";

export type Phase = "waiting" | "starting" | "stopping" | "ok" | "failed" | "skipped";

/** Progress and warnings sink: a listr2 list on a TTY, plain lines otherwise (output/progress.ts). */
export interface Reporter {
  /** The services this operation will touch, before any update. */
  plan(services: string[]): void;
  update(service: string, phase: Phase, message: string): void;
  /** A problem that fails nothing (an on_failure action that could not run): shown, never fatal. */
  warn(message: string): void;
}

export interface Ctx {
  project: Project;
  paths: Paths;
  reporter: Reporter;
  /** This sv process, recorded as the owner of the transitions it drives. */
  self: { pid: number; ticks: number };
  lockWaitMs: number;
  backends: Backends;
  /** What services, hooks and probes inherit: sv's environment without the variables the `api:` section reads. */
  inheritedEnv: Record<string, string | undefined>;
  /** Why the config could not be loaded, when the command works from the store alone (down, status, reconcile). */
  configError?: string;
  /** Units whose backend could not be reached on this look (a host down): what, and since when. Their state is unknown. */
  unknown: Map<string, { where: string; since: string }>;
}

function withoutVariables(env: Record<string, string | undefined>, names: string[]): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of names) delete out[name];
  return out;
}

export const silentReporter: Reporter = { plan() {}, update() {}, warn() {} };

/**
 * Find the project, load and validate its config, and describe this sv process. With `fromStore`, a
 * config that cannot be loaded is no error: the context has no services (every recorded unit is an
 * orphan, stopped and shown from what the store recorded) and says why in `configError`.
 */
export async function openContext(opts: { root?: string; waitLock?: boolean; reporter?: Reporter; fromStore?: boolean }): Promise<Ctx> {
  const root = findRoot(process.cwd(), opts.root || process.env.SV_ROOT || undefined);
  let project: Project;
  let loaded: Project | undefined;
  let configError: string | undefined;
  let backends: Backends | undefined;
  try {
    project = loaded = await loadProject(root);
    // A plugin that cannot be loaded, or whose backend cannot be made, is a config that cannot be loaded.
    if (project.plugins.length > 0) backends = createBackends(projectPaths(root, project.stateDir), project, await loadPlugins(project));
  } catch (e) {
    if (!opts.fromStore || !(e instanceof SvError)) throw e;
    configError = e instanceof ConfigError && e.problems.length > 1 ? `${e.problems[0]} (and ${e.problems.length - 1} more)` : e.message;
    // A config that loaded but whose plugins did not still says where its state is.
    const stateDir = loaded?.stateDir ?? resolve(root, process.env.SV_STATE_DIR || ".sv");
    project = { root, stateDir, maxParallel: 32, defaultTimeoutMs: 60_000, services: new Map(), api: { tokens: [], allowInsecure: false, secretEnv: [] }, name: loaded?.name ?? defaultProjectName(root), plugins: [], hosts: loaded?.hosts ?? new Map(), networks: loaded?.networks ?? new Map() };
  }
  const paths = projectPaths(root, project.stateDir);
  return {
    project,
    paths,
    reporter: opts.reporter ?? silentReporter,
    self: whoAmI(),
    lockWaitMs: opts.waitLock === false ? 0 : DEFAULT_LOCK_WAIT_MS,
    backends: backends ?? createBackends(paths, project),
    inheritedEnv: withoutVariables(process.env, project.api.secretEnv),
    configError,
    unknown: new Map(),
  };
}
