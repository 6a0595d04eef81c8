// Files under the state dir, opened so that nobody else can redirect them: the dirs must be ours and
// writable by us alone, and no file is followed through a symbolic link or shared by a hard link.
//
// Why: a project may belong to a deploy user while root runs sv (so that `user:` works). If that user
// could plant `.sv/state/lock -> /etc/important`, root's sv would truncate the target; a planted
// `log/web.log` would make rotation copy it into a world-readable `.log.1`. The dir check closes the
// door (nobody else can create anything in a dir that is ours and not group/world-writable); O_NOFOLLOW
// and the fstat after open catch what was planted before sv made the dir its own.
import { type Stats, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { relative } from "node:path";
import { accountEntry } from "./accounts.ts";
import { SvError } from "../errors.ts";

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_WRONLY } = constants;

/** What an open is for: each maps to flags that never follow a final symbolic link. */
const FLAGS = {
  read: O_RDONLY,
  append: O_WRONLY | O_APPEND | O_CREAT,
  /** Read and write, created when missing, never truncated on open (the lock file). */
  update: O_RDWR | O_CREAT,
  /** Read and write an existing file (rotation). */
  modify: O_RDWR,
} as const;
export type OpenFor = keyof typeof FLAGS;

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("../") ? rel : path;
}

function userName(uid: number): string {
  try {
    const pw = accountEntry("/etc/passwd", String(uid), { idOnly: true });
    return pw ? `${uid} (${pw[0]})` : String(uid);
  } catch {
    return String(uid);
  }
}

const euid = (): number => process.geteuid?.() ?? 0;

function refuse(path: string, why: string, hint: string): SvError {
  return new SvError(`refusing ${shown(path)}: ${why}`, { hint });
}

/**
 * Make `dir` (and its missing parents) with `mode`, then check it: a real directory, not a link, owned
 * by the user sv runs as, not writable by group or others. Throws a one-line SvError naming the owner.
 */
export function ensurePrivateDir(dir: string, mode = 0o755): void {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    // recursive: its parents too, and no EEXIST when another sv made it meanwhile.
    mkdirSync(dir, { recursive: true, mode });
    st = lstatSync(dir);
  }
  checkDir(dir, st);
}

function checkDir(dir: string, st: Stats): void {
  const me = euid();
  if (st.isSymbolicLink()) throw refuse(dir, `it is a symbolic link (owned by uid ${userName(st.uid)})`, `remove it, or point state_dir: in sv.yml at the real directory`);
  if (!st.isDirectory()) throw refuse(dir, "it is not a directory", `remove it, or set state_dir: in sv.yml to a directory`);
  if (st.uid !== me) {
    throw refuse(dir, `it is owned by uid ${userName(st.uid)}, and sv runs as uid ${userName(me)}`, `chown -R ${me} ${shown(dir)}, or run sv as its owner`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw refuse(dir, `it is writable by ${st.mode & 0o002 ? "others" : "its group"} (mode ${(st.mode & 0o7777).toString(8)})`, `chmod go-w ${shown(dir)}`);
  }
}

/**
 * Open a file in a private dir. Never follows a final symbolic link; after the open, the file must be
 * a regular file of ours with one link (a hard link could point it anywhere). Throws SvError otherwise;
 * other errors (ENOENT, ENOSPC …) pass through for the caller to word.
 */
export function openPrivate(path: string, use: OpenFor, mode = 0o644): number {
  let fd: number;
  try {
    fd = openSync(path, FLAGS[use] | O_NOFOLLOW, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") {
      let owner = "";
      try {
        owner = ` (owned by uid ${userName(lstatSync(path).uid)})`;
      } catch {}
      throw refuse(path, `it is a symbolic link${owner}`, `remove it; sv never writes or reads through a link in its state dir`);
    }
    throw e;
  }
  const why = whyNotOurs(fstatSync(fd));
  if (why) {
    closeSync(fd);
    throw refuse(path, why, NOT_OURS_HINT);
  }
  return fd;
}

const NOT_OURS_HINT = "remove it; sv only uses files it created itself";

/** Why a file sv would use is not one it created (null when it is): a link, not a file, another owner, shared. */
function whyNotOurs(st: Stats): string | null {
  if (st.isSymbolicLink()) return `it is a symbolic link (owned by uid ${userName(st.uid)})`;
  if (!st.isFile()) return "it is not a regular file";
  if (st.uid !== euid()) return `it is owned by uid ${userName(st.uid)}`;
  return st.nlink > 1 ? `it has ${st.nlink} hard links` : null;
}

/** Throw as openPrivate would if `path` exists and is not a file of ours with one link; nothing when it is missing. */
export function checkPrivateFile(path: string): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  const why = whyNotOurs(st);
  if (why) throw refuse(path, why, NOT_OURS_HINT);
}

/** Create `path` afresh (O_EXCL): whatever was there — a file left by a killed sv, a planted link — is unlinked first. */
export function createFresh(path: string, mode = 0o600, access: "write" | "read-write" = "write"): number {
  try {
    unlinkSync(path); // removes a link itself, never its target
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return openSync(path, (access === "write" ? O_WRONLY : O_RDWR) | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
}

/** Write `text` as the whole content of a fresh private file. */
export function writeFresh(path: string, text: string, mode = 0o600): void {
  const fd = createFresh(path, mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** The whole content of a private file (see openPrivate). */
export function readPrivate(path: string): Buffer {
  const fd = openPrivate(path, "read");
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Would ensurePrivateDir accept `dir` as it is now (without making it)? */
export function isPrivateDir(dir: string): boolean {
  try {
    checkDir(dir, lstatSync(dir));
    return true;
  } catch {
    return false;
  }
}
