// A package tarball, read locally before anything is sent: its digest, every member checked for what would be unsafe
// to extract on the host (paths out of the release dir, links, devices), and its manifest.yaml validated.
// The tar headers are parsed here (ustar, GNU long names, pax): Bun.Archive lists regular files only, no types or links.
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import * as v from "valibot";
import { SvError } from "../errors.ts";
import { echo } from "./echo.ts";
import { byKind, strict } from "./fields.ts";
import { issuesToProblems, type Seg } from "./problems.ts";
import { ServiceSchema } from "./schema.ts";

export interface PackageManifest {
  name: string;
  version: string;
  command: string | string[];
  port?: number;
  /** As written: the service schema that merges it validates it again. */
  health_check?: unknown;
  env: Record<string, string>;
}

export interface PackageInfo {
  /** Absolute. */
  path: string;
  /** Of the tarball's bytes, as sent. */
  sha256: string;
  sha8: string;
  bytes: number;
  manifest: PackageManifest;
  /** Which of scripts/pre-start.sh, post-start.sh, health-check.sh it holds. */
  scripts: { preStart: boolean; postStart: boolean; healthCheck: boolean };
  /** The release dir's name: `${version}-${sha8}`, the version cut to [A-Za-z0-9._+-]. */
  release: string;
}

/** A manifest that does not validate: every problem, each `tarball: manifest.yaml:line:col: key: message`. */
export class PackageError extends SvError {
  readonly problems: string[];
  constructor(problems: string[], hint: string) {
    super(problems.length === 1 ? problems[0]! : `${problems[0]} (and ${problems.length - 1} more)`, { hint });
    this.name = "PackageError";
    this.problems = problems;
  }
}

export const MAX_PACKAGE_BYTES = 1024 ** 3;
export const MAX_UNPACKED_BYTES = 2 * 1024 ** 3;
export const MAX_MEMBERS = 100_000;
export const MAX_MANIFEST_BYTES = 64 * 1024;
const MAX_META_BYTES = 1024 ** 2; // one pax header or GNU long name

const REBUILD = "make the tarball from inside the package folder: tar -czf app.tar.gz -C app .";
const CORRUPT = "the file is damaged or not a tarball: build or copy it again";

/** The sha256 and size of a file, read once. */
export function packageDigest(path: string): { sha256: string; bytes: number } {
  const data = readTarball(path, path);
  return { sha256: sha256Of(data), bytes: data.length };
}

/** Read, check and describe the tarball at `path` (named as `shown` in messages); throws SvError before anything is extracted. */
export function readPackage(path: string, shown = path): PackageInfo {
  return readPackageData(path, shown).info;
}

/** readPackage, with the bytes it read (for a caller that also hashes them: the config cache's stamp). */
export function readPackageData(path: string, shown = path): { info: PackageInfo; data: Uint8Array } {
  const absolute = resolve(path);
  const data = readTarball(absolute, shown);
  return { info: describePackage(absolute, data, shown), data };
}

function describePackage(absolute: string, data: Uint8Array, shown: string): PackageInfo {
  const sha256 = sha256Of(data);
  const refuse = (what: string, hint: string): never => {
    throw new SvError(`${shown}: ${what}`, { hint });
  };
  const tar = data[0] === 0x1f && data[1] === 0x8b ? gunzip(data, refuse) : data;
  const members = listMembers(tar, refuse);
  const types = checkMembers(members, refuse);
  const manifestMember = members.findLast((m) => m.segs.length === 1 && m.segs[0] === "manifest.yaml");
  if (!manifestMember) {
    const nested = members.find((m) => m.segs.length === 2 && m.segs[1] === "manifest.yaml");
    refuse("no manifest.yaml at the top of the tarball", nested ? `it is at ${nested.name}: tar -czf app.tar.gz -C ${nested.segs[0]} .` : `a package holds manifest.yaml, bin/, config/, scripts/, lib/; ${REBUILD}`);
  }
  const m = manifestMember!;
  if (!isFile(m.type)) refuse(`manifest.yaml is ${TYPE_WORDS[m.type] ?? "not a regular file"}, not a file`, "make manifest.yaml a plain file");
  if (m.size > MAX_MANIFEST_BYTES) refuse(`manifest.yaml is ${m.size} bytes, more than ${MAX_MANIFEST_BYTES / 1024} KiB`, "a manifest holds name, version, command and a few settings");
  const manifest = parseManifest(tar.subarray(m.offset, m.offset + m.size), shown);
  const has = (name: string) => ["0", "7", "2"].includes(types.get(`scripts/${name}`) ?? "");
  const sha8 = sha256.slice(0, 8);
  return {
    path: absolute,
    sha256,
    sha8,
    bytes: data.length,
    manifest,
    scripts: { preStart: has("pre-start.sh"), postStart: has("post-start.sh"), healthCheck: has("health-check.sh") },
    release: `${releaseVersion(manifest.version)}-${sha8}`,
  };
}

/** A version as a directory name: other characters become `_`, never a leading `.` or `-`, at most 64 characters. */
export function releaseVersion(version: string): string {
  return version.replace(/[^A-Za-z0-9._+-]/g, "_").replace(/^[.-]/, "_").slice(0, 64);
}

function sha256Of(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

function readTarball(path: string, shown: string): Uint8Array {
  let size: number;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) throw new SvError(`${shown}: is ${stats.isDirectory() ? "a directory" : "not a regular file"}, not a tarball`, { hint: `package: names a .tar.gz, .tgz or .tar file; ${REBUILD}` });
    size = stats.size;
  } catch (e) {
    if (e instanceof SvError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new SvError(`${shown}: ${code === "ENOENT" ? "no such file" : `cannot read it (${code ?? (e as Error).message})`}`, { hint: "build the package first, or fix the package: path" });
  }
  if (size > MAX_PACKAGE_BYTES) throw new SvError(`${shown}: is ${size} bytes, more than ${MAX_PACKAGE_BYTES / 1024 ** 3} GiB`, { hint: "keep data out of the package: it is sent whole on every deploy" });
  if (size === 0) throw new SvError(`${shown}: is empty`, { hint: CORRUPT });
  return readFileSync(path);
}

function gunzip(data: Uint8Array, refuse: (what: string, hint: string) => never): Uint8Array {
  try {
    return gunzipSync(data, { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE") refuse(`unpacks to more than ${MAX_UNPACKED_BYTES / 1024 ** 3} GiB`, "keep data out of the package: it is sent whole on every deploy");
    return refuse(`is corrupt gzip data (${(e as Error).message})`, CORRUPT);
  }
}

// ---- tar ----

interface Member {
  /** The name the extracting tar uses (pax path, GNU long name, ustar prefix/name); `segs` without "." and "". */
  name: string;
  segs: string[];
  /** Every name some tar could read from the headers: each must be safe, whichever the host's tar picks. */
  names: string[];
  type: string;
  size: number;
  mode: number;
  link: string;
  links: string[];
  offset: number;
}

const BLOCK = 512;
const decoder = new TextDecoder();
const TYPE_WORDS: Record<string, string> = { "1": "a hard link", "2": "a symlink", "3": "a character device", "4": "a block device", "5": "a directory", "6": "a FIFO" };
const isFile = (type: string) => type === "0" || type === "7";

const text = (b: Uint8Array, at: number, len: number): string => {
  const field = b.subarray(at, at + len);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
};

/** A numeric header field: octal digits, or GNU's base-256 when the first byte has its high bit set. */
function numberField(b: Uint8Array, at: number, len: number): number {
  if (b[at]! & 0x80) {
    if (b[at]! & 0x40) return NaN; // negative
    let n = b[at]! & 0x3f;
    for (let i = 1; i < len; i++) n = n * 256 + b[at + i]!;
    return n;
  }
  const s = text(b, at, len).trim();
  return /^[0-7]*$/.test(s) ? (s === "" ? 0 : parseInt(s, 8)) : NaN;
}

function checksumOk(h: Uint8Array): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const stored = numberField(h, 148, 8);
  return stored === unsigned || stored === signed;
}

/** pax records `len key=value\n`. */
function paxRecords(data: Uint8Array): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    const len = space === -1 ? NaN : Number(decoder.decode(data.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= space - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a) return undefined;
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf("=");
    if (eq === -1) return undefined;
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** The members of a tar archive, headers parsed and checked; refuses a corrupt or truncated one. */
function listMembers(tar: Uint8Array, refuse: (what: string, hint: string) => never): Member[] {
  const members: Member[] = [];
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Map<string, string> | undefined;
  for (;;) {
    if (pos + BLOCK > tar.length) refuse(pos === 0 ? "is not a tar archive (too short)" : `is truncated (no end-of-archive marker after byte ${pos})`, CORRUPT);
    const h = tar.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) refuse(pos === 0 ? "is not a tar archive" : `is corrupt (bad header checksum at byte ${pos})`, CORRUPT);
    const type = String.fromCharCode(h[156]!) === "\0" ? "0" : String.fromCharCode(h[156]!);
    const size = numberField(h, 124, 12);
    const rawName = text(h, 0, 100);
    const shownName = pax?.get("path") ?? longName ?? rawName;
    if (!Number.isSafeInteger(size) || size < 0) refuse(`member "${echo(shownName)}" has a bad size field`, CORRUPT);
    const offset = pos + BLOCK;
    const next = offset + Math.ceil(size / BLOCK) * BLOCK;
    if (offset + size > tar.length) refuse(`is truncated (member "${echo(shownName)}" needs ${size} bytes, ${Math.max(0, tar.length - offset)} are left)`, CORRUPT);
    pos = next;
    const data = tar.subarray(offset, offset + size);
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > MAX_META_BYTES) refuse(`has a ${type === "x" || type === "g" ? "pax header" : "long name"} of ${size} bytes`, CORRUPT);
      if (type === "L") longName = text(data, 0, data.length);
      else if (type === "K") longLink = text(data, 0, data.length);
      else {
        const records = paxRecords(data) ?? refuse(`has a malformed pax header at byte ${offset - BLOCK}`, CORRUPT);
        if (type === "x") pax = records;
        else if (["path", "linkpath", "size"].some((k) => records.has(k))) refuse("has a global pax header that renames members", "build the tarball with GNU tar or bsdtar, without --pax-option");
      }
      continue;
    }
    if (members.length >= MAX_MEMBERS) refuse(`has more than ${MAX_MEMBERS} members`, "a package this big is better split, or its data kept out of it");
    const ustar = text(h, 257, 6) === "ustar" && h[262] === 0;
    const prefix = text(h, 345, 155);
    const names = [rawName, ...(prefix ? [`${prefix}/${rawName}`] : []), ...(longName !== undefined ? [longName] : []), ...(pax?.has("path") ? [pax.get("path")!] : [])];
    const name = pax?.get("path") ?? longName ?? (ustar && prefix ? `${prefix}/${rawName}` : rawName);
    const rawLink = text(h, 157, 100);
    const links = [rawLink, ...(longLink !== undefined ? [longLink] : []), ...(pax?.has("linkpath") ? [pax.get("linkpath")!] : [])];
    const link = pax?.get("linkpath") ?? longLink ?? rawLink;
    const paxSize = pax?.get("size");
    if (paxSize !== undefined && Number(paxSize) !== size) refuse(`member "${echo(name)}" has a pax size that differs from its header`, CORRUPT);
    if (name === "") refuse(`has a member with an empty name at byte ${offset - BLOCK}`, CORRUPT);
    members.push({ name, segs: name.split("/").filter((s) => s !== "" && s !== "."), names, type, size, mode: numberField(h, 100, 8), link, links, offset });
    [longName, longLink, pax] = [undefined, undefined, undefined];
  }
  if (members.length === 0) refuse("is an empty tar archive", `a package holds at least manifest.yaml; ${REBUILD}`);
  return members;
}

/** Refuse any member that is unsafe to extract; the type of each path (the last member of that name wins, as in tar). */
function checkMembers(members: Member[], refuse: (what: string, hint: string) => never): Map<string, string> {
  const inside = "a package may only hold paths inside its release dir";
  const symlinks = new Set<string>();
  for (const m of members) {
    const named = `member "${echo(m.name)}"`;
    for (const n of m.names) {
      if (n.startsWith("/")) refuse(`${named} has an absolute path`, `${inside}; ${REBUILD}`);
      if (n.split("/").includes("..")) refuse(`${named} has a ".." segment`, `${inside}; ${REBUILD}`);
    }
    if (m.type === "1") refuse(`${named} is a hard link (to "${echo(m.link)}")`, "a package may not hold hard links: copy the file, or make it a relative symlink");
    if (m.type === "3" || m.type === "4" || m.type === "6") refuse(`${named} is ${TYPE_WORDS[m.type]}`, "a package holds only files, directories and symlinks");
    if (!isFile(m.type) && m.type !== "2" && m.type !== "5") refuse(`${named} has tar type "${echo(m.type)}", which a package may not hold`, "a package holds only files, directories and symlinks; build it with plain tar -czf");
    if ((m.type === "2" || m.type === "5") && m.size !== 0) refuse(`${named} is ${TYPE_WORDS[m.type]} with data`, CORRUPT);
    if (m.segs.length === 0 && m.type !== "5") refuse(`${named} is the release dir itself, but not a directory`, CORRUPT);
    if (m.type !== "5" && m.mode & 0o6000) refuse(`${named} is setuid or setgid`, "a package's files are extracted as the deploying user: drop the s bit (chmod ug-s)");
    if (m.type === "2") symlinks.add(m.segs.join("/"));
  }
  const types = new Map<string, string>();
  for (const m of members) {
    const named = `member "${echo(m.name)}"`;
    for (let i = 1; i < m.segs.length; i++) {
      const dir = m.segs.slice(0, i).join("/");
      if (symlinks.has(dir)) refuse(`${named} is inside the symlink "${dir}"`, "a package may not write through its own symlinks: make the folder a real one");
    }
    if (m.type === "2") {
      for (const target of new Set(m.links)) {
        const why = target.startsWith("/") ? "an absolute path" : escapes(m.segs.slice(0, -1), target, symlinks);
        if (why) refuse(`${named} is a symlink to "${echo(target)}", ${why}`, "symlinks in a package must be relative and stay inside it");
      }
    }
    types.set(m.segs.join("/"), m.type);
  }
  return types;
}

/** Why a relative link target in `dir` leaves the release dir, or passes through another symlink (whose target may); "" if it does not. */
function escapes(dir: string[], target: string, symlinks: Set<string>): string {
  const parts = target.split("/").filter((s) => s !== "" && s !== ".");
  const at = [...dir];
  for (const [i, part] of parts.entries()) {
    if (part === "..") {
      if (at.length === 0) return "outside the release dir";
      at.pop();
    } else {
      at.push(part);
      if (i < parts.length - 1 && symlinks.has(at.join("/"))) return `through the symlink "${echo(at.join("/"))}"`;
    }
  }
  return "";
}

// ---- manifest ----

const Name = v.pipe(v.string("must be a string"), v.check((s) => s.trim() !== "", "must not be empty"), v.maxLength(128, "must be at most 128 characters"));
const VERSION_MESSAGE = 'must be a string like "1.2.3"';
const Version = byKind(
  {
    string: v.pipe(v.string(), v.check((s) => s.trim() !== "", "must not be empty"), v.maxLength(64, "must be at most 64 characters")),
    number: v.pipe(v.number(), v.integer(`${VERSION_MESSAGE} (quote it: 1.10 is the number 1.1)`), v.transform(String)),
  },
  VERSION_MESSAGE,
);
const SERVICE_KEYS = ["command", "port", "health_check", "env"] as const;
const ManifestSchema = strict(
  { name: Name, version: Version, command: v.optional(v.unknown()), port: v.optional(v.unknown()), health_check: v.optional(v.unknown()), env: v.optional(v.unknown()) },
  "must be a mapping like name: app, version: 1.2.3, command: bin/app",
);

/** manifest.yaml's text -> the manifest; every problem at once, each placed at its line and column. */
function parseManifest(bytes: Uint8Array, shown: string): PackageManifest {
  const hint = "fix manifest.yaml (name, version, command; optional port, health_check, env) and build the package again";
  const problem = (line: number, col: number, path: Seg[], message: string) => `${shown}: manifest.yaml:${line}:${col}: ${path.length ? `${path.map((s) => echo(String(s))).join(".")}: ` : ""}${message}`;
  let source: string;
  try {
    source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new PackageError([problem(1, 1, [], "is not UTF-8 text")], hint);
  }
  const { parseAllDocuments, LineCounter, isMap, isSeq, isScalar } = require("yaml") as typeof import("yaml");
  const lines = new LineCounter();
  const docs = parseAllDocuments(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => lines.linePos(offset ?? 0);
  const docList = Array.isArray(docs) ? docs : [];
  const firstError = docList.flatMap((d) => d.errors)[0];
  if (firstError) {
    const { line, col } = at(firstError.pos[0]);
    throw new PackageError([problem(line, col, [], `invalid YAML: ${firstError.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "")}`)], hint);
  }
  if (docList.length > 1) {
    const { line, col } = at(docList[1]!.range[0]);
    throw new PackageError([problem(line, col, [], `expected one YAML document, found ${docList.length} (separated by ---)`)], hint);
  }
  const doc = docList[0];
  let value: unknown;
  try {
    value = doc?.toJS({ maxAliasCount: 100 }) ?? null;
  } catch (e) {
    throw new PackageError([problem(1, 1, [], `invalid YAML: ${(e as Error).message}`)], hint);
  }

  /** Where `path` is in the document: its value, or its key when `atKey`; a missing key gives its parent's place. */
  const locate = (path: Seg[], atKey: boolean) => {
    let node: unknown = doc?.contents;
    let place = (node as { range?: number[] } | null)?.range?.[0] ?? 0;
    for (const [i, seg] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) break;
        const keyAt = (pair.key as { range?: number[] }).range?.[0] ?? place;
        if (last) return at(atKey || pair.value === null ? keyAt : ((pair.value as { range?: number[] }).range?.[0] ?? keyAt));
        [node, place] = [pair.value, keyAt];
      } else if (isSeq(node) && typeof seg === "number" && node.items[seg]) {
        node = node.items[seg];
        place = (node as { range?: number[] }).range?.[0] ?? place;
      } else break;
    }
    return at(place);
  };

  const top = v.safeParse(ManifestSchema, value);
  const input = value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const part = Object.fromEntries(SERVICE_KEYS.filter((k) => input[k] !== undefined && input[k] !== null).map((k) => [k, input[k]]));
  // The service keys are checked as a service's are, with the same messages; not when the whole is no mapping.
  const service = input === value ? v.safeParse(ServiceSchema, part) : undefined;
  if (!top.success || !service?.success) {
    const issues = [...(top.success ? [] : top.issues), ...(service && !service.success ? service.issues : [])];
    const placed = issuesToProblems("manifest.yaml", [], issues).map((p) => ({ ...locate(p.path, p.atKey ?? false), p }));
    placed.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new PackageError([...new Set(placed.map(({ line, col, p }) => problem(line, col, p.path, p.message)))], hint);
  }
  const svc = service.output as { command: string | string[]; port?: number; env: Record<string, string> };
  return {
    name: top.output.name,
    version: top.output.version,
    command: svc.command,
    ...(svc.port === undefined ? {} : { port: svc.port }),
    ...(part.health_check === undefined ? {} : { health_check: part.health_check }),
    env: svc.env,
  };
}
