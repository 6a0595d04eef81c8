// Finding and parsing what the user wrote: sv.yml, services/*.yml|yaml, and `include:` files, globs and URLs.
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { findCycle } from "./cycles.ts";
import { Inputs, MAX_CONFIG_BYTES, UnreadableFile, kindOfFile, tooBig } from "./inputs.ts";
import { type Kind, isRecord, kindOf } from "./kinds.ts";
import { closestKey, echo } from "./echo.ts";
import type { Problem, Seg } from "./problems.ts";

/** One service definition as written, before validation. */
export interface Source {
  file: string;
  /** Key path of the definition inside its file: [] for a file of its own, ["services", NAME] in a `services:` map. */
  prefix: Seg[];
  /** The name it gets unless it says `name:`: the file stem or the map key. */
  name: string;
  data: unknown;
}

/** Reads and parses files, remembering every text (for positions), every problem, and what was read (for the cache). */
export class Reader {
  readonly texts = new Map<string, string>();
  readonly problems: Problem[] = [];
  constructor(readonly inputs = new Inputs()) {}

  /** Parse `text` (YAML or JSON) with Bun's fast parser; undefined (and a problem) on a syntax error. */
  parse(file: string, text: string): unknown {
    this.texts.set(file, text);
    let data: unknown;
    try {
      data = Bun.YAML.parse(text);
    } catch (e) {
      if (e instanceof RangeError) {
        // Nesting too deep for Bun's parser is too deep for the yaml package too, which takes seconds to say so.
        this.texts.delete(file);
        this.problems.push({ file, path: [], unplaced: true, message: "nested too deep to parse" });
        return undefined;
      }
      const message = (e as Error).message.replace(/^YAML Parse error: /, "");
      this.problems.push({ file, path: [], message: message.charAt(0).toLowerCase() + message.slice(1), syntax: true });
      return undefined;
    }
    const cycle = findCycle(data);
    if (cycle === undefined) return data;
    this.problems.push({ file, path: cycle, message: "is an alias of a node that contains it (a cyclic alias)" });
    return undefined;
  }

  /** Read and parse a local file; undefined (and a problem) when it cannot be read. */
  read(file: string): unknown {
    let text: string;
    try {
      text = this.inputs.readText(file);
    } catch (e) {
      if (e instanceof UnreadableFile) this.problems.push({ file, path: [], unplaced: true, message: e.message });
      else this.problems.push({ file, path: [], message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
      return undefined;
    }
    return this.parse(file, text);
  }
}

const ARTICLE: Record<Kind, string> = { string: "a string", number: "a number", boolean: "a boolean", list: "a list", mapping: "a mapping", null: "nothing" };

export const SERVICE_DOCUMENT = "a mapping like command: ...";

/** A problem when a document that should be `what` (a kind of mapping) is empty or something else. */
export function checkMapping(reader: Reader, file: string, data: unknown, what: string): data is Record<string, unknown> {
  if (isRecord(data)) return true;
  if (data === null) reader.problems.push({ file, path: [], message: `the file is empty (expected ${what})` });
  else if (data !== undefined) reader.problems.push({ file, path: [], shape: true, message: `expected ${what}, got ${ARTICLE[kindOf(data)]}` });
  return false;
}

/** The names of the service files in services/ (*.yml, *.yaml; not hidden, not folders), sorted; null without the folder. */
export function serviceFileNames(root: string): string[] | null {
  const dir = join(root, "services");
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {}
  if (!isDirectory) return null;
  const names = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith(".") && /\.ya?ml$/.test(e.name) && !e.isDirectory());
  return names.map((e) => e.name).sort((a, b) => (a < b ? -1 : 1));
}

/** services/*.yml and services/*.yaml, one service each, in name order. */
export function readServiceFiles(root: string, reader: Reader): Source[] {
  const names = serviceFileNames(root);
  reader.inputs.serviceFiles = names;
  const sources: Source[] = [];
  for (const name of names ?? []) {
    const file = join(root, "services", name);
    const data = reader.read(file);
    if (checkMapping(reader, file, data, SERVICE_DOCUMENT)) sources.push({ file, prefix: [], name: stem(name), data });
  }
  return sources;
}

/** Definitions in a `services:` map of `file`. */
export function inlineSources(file: string, services: Record<string, unknown>): Source[] {
  return Object.entries(services).map(([name, data]) => ({ file, prefix: ["services", name], name, data }));
}

/** Sources named by the `include:` list of sv.yml: files, globs (matching nothing is fine) and http(s) URLs. */
export async function readIncludes(root: string, specs: string[], settingsFile: string, reader: Reader): Promise<Source[]> {
  const sources: Source[] = [];
  for (const [i, spec] of specs.entries()) {
    const where = { file: settingsFile, path: ["include", i] };
    if (/^https?:\/\//i.test(spec)) {
      reader.inputs.uncacheable = "it includes a URL";
      if (reader.texts.has(spec)) continue;
      const data = await fetchDocument(spec, reader, where);
      if (data !== undefined) sources.push(...includedSources(spec, data, reader));
      continue;
    }
    for (const file of matchFiles(root, spec, reader, where)) {
      if (reader.texts.has(file)) continue; // already read (sv.yml, services/, an earlier include)
      sources.push(...includedSources(file, reader.read(file), reader));
    }
  }
  return sources;
}

/** The files an include path or glob names, sorted; a missing plain path is a problem. */
function matchFiles(root: string, spec: string, reader: Reader, where: { file: string; path: Seg[] }): string[] {
  if (isGlob(spec)) {
    const files = globFiles(root, spec);
    reader.inputs.globs.set(spec, files);
    return files;
  }
  const file = resolve(root, spec);
  if (!existsSync(file)) reader.problems.push({ ...where, message: `${spec} does not exist` });
  else if (statSync(file).isDirectory()) reader.problems.push({ ...where, message: `${spec} is not a file (to include a folder, write ${spec.replace(/\/$/, "")}/*.yml)` });
  else if (!statSync(file).isFile()) reader.problems.push({ ...where, message: `${spec} is not a regular file (${kindOfFile(statSync(file))})` });
  else return [file];
  return [];
}

const isGlob = (spec: string) => /[*?[{]/.test(spec);

/** The files a glob matches, relative to the root unless absolute; sorted. */
export function globFiles(root: string, spec: string): string[] {
  const [cwd, pattern] = isAbsolute(spec) ? ["/", spec.slice(1)] : [root, spec.replace(/^\.\//, "")];
  return [...new Bun.Glob(pattern).scanSync({ cwd, absolute: true, onlyFiles: true })].map((f) => resolve(f)).sort();
}

/** Fetch and parse an included URL; undefined (and a problem) when that fails. */
async function fetchDocument(url: string, reader: Reader, where: { file: string; path: Seg[] }): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: "application/yaml, application/json, text/plain" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return reader.parse(url, await boundedText(res));
  } catch (e) {
    const why = (e as Error).name === "TimeoutError" ? "no answer within 10 s" : (e as Error).message;
    reader.problems.push({ ...where, message: `cannot fetch ${url}: ${why}` });
    return undefined;
  }
}

/** A response body of at most MAX_CONFIG_BYTES, read no further than that. */
async function boundedText(res: Response): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > MAX_CONFIG_BYTES) throw new Error(tooBig(declared));
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of res.body ?? []) {
    chunks.push(chunk);
    length += chunk.length;
    if (length > MAX_CONFIG_BYTES) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`the body is over the 1 MiB limit for a config file`);
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** An included document: one service named after the file, or a `services:` map of them. */
function includedSources(file: string, data: unknown, reader: Reader): Source[] {
  if (!checkMapping(reader, file, data, `${SERVICE_DOCUMENT} or services: NAME: ...`)) return [];
  if (!("services" in data)) return [{ file, prefix: [], name: stem(file), data }];
  for (const key of Object.keys(data).filter((k) => k !== "services" && !k.startsWith("x-"))) {
    const guess = closestKey(key, ["services"]);
    const hint = guess ? ' (did you mean "services"?)' : " (a file with services: holds nothing else)";
    reader.problems.push({ file, path: [key], atKey: true, message: `unknown key "${echo(key)}"${hint}` });
  }
  if (isRecord(data.services)) return inlineSources(file, data.services);
  reader.problems.push({ file, path: ["services"], message: "must be a mapping of name -> service definition" });
  return [];
}

/** "services/api.yml" -> "api"; "https://x/y/db.json?v=1" -> "db". */
function stem(file: string): string {
  const path = /^https?:/i.test(file) ? new URL(file).pathname : file;
  return basename(path).replace(/\.(ya?ml|json)$/i, "");
}
