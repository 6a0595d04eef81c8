// Backends from sv.yml `plugins:`: each module imported at run time (the compiled sv imports .ts from disk),
// its default export checked, and made into a factory the registry calls like a built-in's.
import { existsSync, statSync } from "node:fs";
import { isAbsolute, relative } from "node:path";
import type { Project } from "../config/schema.ts";
import { SvError, UsageError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { createLocalBackend } from "./local/index.ts";
import type { BackendPlugin } from "./plugin-api.ts";
import { BUILT_IN_KINDS, type BackendFactory } from "./registry.ts";

const KIND = /^[a-z][a-z0-9-]{0,31}$/;
const METHODS = ["runs", "start", "inspect", "stop", "kill", "reap", "exec", "address"] as const;
const LOG_METHODS = ["tail", "exists", "file", "rotate"] as const;
const OPTIONAL_METHODS = ["exitWatcher", "discover", "teardown"] as const;
const SHAPE_HINT = 'export default { kind: "my-backend", create: (host) => backend } — see "Plugins" in the README';

/** The project's plugin backends, in sv.yml's order; nothing is imported when there are none. */
export async function loadPlugins(project: Project): Promise<BackendFactory[]> {
  const factories: BackendFactory[] = [];
  const kinds = new Map<string, string>();
  for (const entry of project.plugins) {
    const name = entryName(project.root, entry);
    const plugin = checkPlugin(name, await importPlugin(project.root, entry, name));
    const taken = BUILT_IN_KINDS.includes(plugin.kind) ? `sv's own ${plugin.kind} backend` : kinds.get(plugin.kind);
    if (taken) throw new UsageError(`plugin ${name}: the backend kind "${plugin.kind}" is already taken by ${taken}`, "give the plugin's backend a kind of its own");
    kinds.set(plugin.kind, `plugin ${name}`);
    factories.push((paths, proj) => checkBackend(name, plugin, create(name, plugin, { paths, project: proj, local: createLocalBackend(paths), SvError })));
  }
  return factories;
}

/** How messages name an entry: a path under the root as ./relative, others as written. */
function entryName(root: string, entry: string): string {
  if (!isAbsolute(entry)) return entry;
  const rel = relative(root, entry);
  return rel.startsWith("..") || isAbsolute(rel) ? entry : `./${rel}`;
}

async function importPlugin(root: string, entry: string, name: string): Promise<unknown> {
  let file: string;
  if (isAbsolute(entry)) {
    if (!existsSync(entry)) throw new UsageError(`plugin ${name} not found: no file ${entry}`, "plugins: in sv.yml lists files relative to the project root, or installed packages");
    if (!statSync(entry).isFile()) throw new UsageError(`plugin ${name} is not a file: ${entry}`, "name the module's file, e.g. ./plugins/my-backend/index.ts");
    file = entry;
  } else {
    try {
      file = Bun.resolveSync(entry, root);
    } catch {
      const hint = /\.[cm]?[jt]sx?$/.test(name) ? `a file's path starts with ./ or /: ./${name}` : `install it in the project (bun add ${name}), or give a path: ./plugins/${name}.ts`;
      throw new UsageError(`plugin ${name} not found: no package "${name}" in node_modules of ${root} or above`, hint);
    }
  }
  try {
    return await import(file);
  } catch (e) {
    throw new UsageError(`plugin ${name} failed to load: ${firstLine(e, root)}`, `fix the module ${file}; sv imports it on every run`);
  }
}

/** The first line of what a module threw; a syntax error's first message, with where it is (Bun's BuildMessage position). */
function firstLine(e: unknown, root: string): string {
  const first = e instanceof AggregateError && e.errors.length > 0 ? e.errors[0] : e;
  const pos = (first as { position?: { file?: string; line?: number; column?: number } } | null)?.position;
  const at = pos?.file && pos.line ? ` (${entryName(root, pos.file).replace(/^\.\//, "")}:${pos.line}:${pos.column ?? 0})` : "";
  const text = first instanceof Error || (typeof first === "object" && first !== null && "message" in first) ? String((first as Error).message) : String(first);
  return `${text.split("\n")[0]!.trim() || "(no message)"}${at}`;
}

function checkPlugin(name: string, mod: unknown): BackendPlugin {
  const p = (mod as { default?: unknown } | null)?.default as Partial<BackendPlugin> | undefined;
  if (p === undefined) throw new UsageError(`plugin ${name} has no default export`, SHAPE_HINT);
  if (typeof p !== "object" || p === null || typeof p.create !== "function") throw new UsageError(`plugin ${name}: its default export is not a backend plugin ({ kind, create })`, SHAPE_HINT);
  if (typeof p.kind !== "string" || !KIND.test(p.kind)) throw new UsageError(`plugin ${name}: its kind must be a word like "my-backend" ([a-z][a-z0-9-]*), got ${JSON.stringify(p.kind) ?? "nothing"}`, SHAPE_HINT);
  return p as BackendPlugin;
}

function create(name: string, plugin: BackendPlugin, host: Parameters<BackendPlugin["create"]>[0]): unknown {
  try {
    return plugin.create(host);
  } catch (e) {
    throw new UsageError(`plugin ${name} failed to create its backend: ${firstLine(e, host.project.root)}`, "its create(host) threw: fix the plugin");
  }
}

/** A plugin's backend must have every method of the interface, and the kind its plugin declares. */
function checkBackend(name: string, plugin: BackendPlugin, b: unknown): Backend {
  if (typeof b !== "object" || b === null) throw new UsageError(`plugin ${name}: create() returned ${b === null ? "null" : typeof b}, not a backend`, SHAPE_HINT);
  const backend = b as Record<string, unknown> & { logs?: Record<string, unknown> };
  const missing = [
    ...METHODS.filter((m) => typeof backend[m] !== "function"),
    ...(typeof backend.logs === "object" && backend.logs !== null ? LOG_METHODS.filter((m) => typeof backend.logs![m] !== "function").map((m) => `logs.${m}`) : ["logs"]),
    ...OPTIONAL_METHODS.filter((m) => backend[m] !== undefined && typeof backend[m] !== "function").map((m) => `${m} (not a function)`),
  ];
  if (missing.length > 0) throw new UsageError(`plugin ${name}: its "${plugin.kind}" backend lacks ${missing.join(", ")}`, "a backend implements every method of the Backend interface (src/backends/plugin-api.ts)");
  if (backend.kind !== plugin.kind) throw new UsageError(`plugin ${name}: its backend's kind ${JSON.stringify(backend.kind) ?? "(none)"} is not the kind it declares ("${plugin.kind}")`, "the handles it records are tagged with the backend's kind: make the two the same");
  return b as Backend;
}
