// The project cache: the validated Project in <state_dir>/cache/project.cache, with what its load read (files, the
// services/ listing, glob matches, variables), so an unchanged config skips parsing and validation. It is a cache:
// anything wrong with it (missing, corrupt, old, another sv) means a full load and a rewrite, never an error.
// This is the fast path of every command: it must not import valibot, the schemas or the yaml package.
import { deserialize, serialize } from "bun:jsc";
import { closeSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { type Inputs, hashOf, readConfigText, statId } from "./inputs.ts";
import { type Env, expand } from "./interpolate.ts";
import { isRecord } from "./kinds.ts";
import type { Project } from "./schema.ts";
import { createFresh, ensurePrivateDir, isPrivateDir, readPrivate } from "../runtime/private-files.ts";
import { globFiles, serviceFileNames } from "./sources.ts";

/** Bump when the layout of the cache file changes. */
const FORMAT = 1;

/**
 * A file whose ctime is this close to (or after) the start of the load that cached it may be edited again within the
 * same timestamp tick (coarse kernel clocks; 1-2 s on some file systems) without its stat changing: its text is
 * compared by hash as well.
 */
const RACY_WINDOW_NS = 5_000_000_000n;

/**
 * The first line of the cache file, JSON: the key. The rest is the Project as structured clone data (bun:jsc), which
 * keeps what JSON cannot (the Map, undefined, -0, Infinity) and decodes in a third of the time of JSON plus a walk.
 */
interface Header {
  format: number;
  program: string;
  root: string;
  /** Variables looked up, with their values (null: unset). */
  env: [string, string | null][];
  serviceFiles: string[] | null;
  globs: [string, string[]][];
  /** Files read: statId, and the hash of the text read when the file had just changed; null: absent. */
  files: [string, [string, string?] | null][];
  /** Hash of the Project data that follows. */
  data: string;
}

/** Where the cache of a project with this state directory lives. */
export function cacheFileOf(stateDir: string): string {
  return join(stateDir, "cache", "project.cache");
}

/** The cached Project of `root` when everything its load read is unchanged; undefined otherwise. */
export function readCachedProject(root: string, env: Env): Project | undefined {
  try {
    const stateDir = stateDirOf(root, env);
    if (stateDir === undefined) return undefined;
    // A cache someone else could have written would be a config they wrote: only one in a private dir counts.
    if (!isPrivateDir(stateDir) || !isPrivateDir(join(stateDir, "cache"))) return undefined;
    const bytes = readPrivate(cacheFileOf(stateDir));
    const newline = bytes.indexOf(10);
    const header = JSON.parse(bytes.toString("utf8", 0, newline)) as Header;
    if (header.format !== FORMAT || header.program !== programId() || header.root !== root || !isUnchanged(root, env, header)) return undefined;
    const data = bytes.subarray(newline + 1);
    if (hashOf(data) !== header.data) return undefined;
    const project = deserialize(data) as Project;
    return project.root === root && project.stateDir === stateDir && project.services instanceof Map ? project : undefined;
  } catch {
    return undefined;
  }
}

/** Cache `project` with what its load read; nothing when it cannot be cached or written (it is only a cache). */
export function writeCachedProject(project: Project, inputs: Inputs): void {
  if (inputs.uncacheable !== undefined || !isAbsolute(project.root)) return;
  const file = cacheFileOf(project.stateDir);
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const data = serialize(project, { binaryType: "nodebuffer" });
    // Whatever would not come back the same (a class instance added to Project one day) is never cached wrong.
    if (!Bun.deepEquals(deserialize(data), project, true)) return;
    const racyFrom = inputs.startedNs - RACY_WINDOW_NS;
    const header: Header = {
      format: FORMAT,
      program: programId(),
      root: project.root,
      env: [...inputs.env].map(([name, value]) => [name, value ?? null]),
      serviceFiles: inputs.serviceFiles,
      globs: [...inputs.globs],
      files: [...inputs.files].map(([path, f]) => [path, f && (f.ctimeNs >= racyFrom ? [f.stat, f.hash] : [f.stat])]),
      data: hashOf(data),
    };
    // Only the owner may read it: it holds what env files and variables expand to, secrets included.
    ensurePrivateDir(project.stateDir);
    ensurePrivateDir(join(project.stateDir, "cache"), 0o700);
    const fd = createFresh(temp, 0o600);
    try {
      writeSync(fd, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data]));
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch {
    try {
      unlinkSync(temp);
    } catch {}
  }
}

/**
 * The state directory as sv.yml sets it, read cheaply (Bun.YAML, no validation) to find the cache; undefined when it
 * cannot be told without the full load (which then reports the problem, or writes the cache where it belongs).
 */
function stateDirOf(root: string, env: Env): string | undefined {
  if (env.SV_STATE_DIR) return resolve(root, env.SV_STATE_DIR);
  let text: string;
  try {
    text = readConfigText(join(root, "sv.yml")).text; // a FIFO or /dev/zero there must not hang or fill memory
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? resolve(root, ".sv") : undefined;
  }
  const data: unknown = Bun.YAML.parse(text);
  const written = isRecord(data) ? data.state_dir : undefined;
  if (written === undefined || written === null) return resolve(root, ".sv");
  if (typeof written !== "string") return undefined;
  let ok = true;
  const value = written.includes("$") ? expand(written, env, () => (ok = false)) : written;
  return ok && value.trim() !== "" ? resolve(root, value) : undefined;
}

/** Would a load of `root` read what the load that wrote `header` read? Cheapest checks first. */
function isUnchanged(root: string, env: Env, header: Header): boolean {
  for (const [name, value] of header.env) {
    const now = env[name];
    if ((typeof now === "string" ? now : null) !== value) return false;
  }
  if (!sameList(serviceFileNames(root), header.serviceFiles)) return false;
  for (const [spec, files] of header.globs) if (!sameList(globFiles(root, spec), files)) return false;
  for (const [file, stamp] of header.files) {
    const stats = statSync(file, { bigint: true, throwIfNoEntry: false });
    if (stamp === null) {
      if (stats !== undefined) return false;
    } else if (stats === undefined || statId(stats) !== stamp[0]) return false;
    else if (stamp[1] !== undefined && hashOf(readFileSync(file, "utf8")) !== stamp[1]) return false;
  }
  return true;
}

function sameList(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

let program: string | undefined;

/**
 * What must match for a cached Project to be trusted: sv's version and the binary itself (a rebuild may change the
 * schema without a new version; the data format is the runtime's); running from source, the config sources too.
 */
function programId(): string {
  if (program !== undefined) return program;
  const parts = [`sv ${pkg.version}`, fileId(process.execPath)];
  if (!import.meta.dir.startsWith("/$bunfs")) {
    for (const name of readdirSync(import.meta.dir).sort()) parts.push(`${name} ${fileId(join(import.meta.dir, name))}`);
  }
  return (program = parts.join("\n"));
}

function fileId(file: string): string {
  return statId(statSync(file, { bigint: true }));
}
