// The state store: .sv/state/services.yml, read without a lock, changed only under the flock.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname, relative } from "node:path";
import { SvError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { checkPrivateFile, createFresh, ensurePrivateDir, readPrivate } from "../runtime/private-files.ts";
import { appendEvents } from "./events.ts";
import { acquireLock } from "./lock.ts";
import { HEALTHS, newUnit, STATES, type SvEvent, type Unit } from "./unit.ts";
import { STORE_VERSION, upgradeUnitV1 } from "./upgrade.ts";

export { newUnit, type Unit } from "./unit.ts";

export interface StoreState {
  version: typeof STORE_VERSION;
  units: Record<string, Unit>;
}

const emptyState = (): StoreState => ({ version: STORE_VERSION, units: {} });

/** The current state, read without the lock (writes are atomic renames, so it is never torn). */
export function readState(paths: Paths): StoreState {
  if (!existsSync(paths.storeFile)) return emptyState();
  return parseState(readStoreText(paths), paths);
}

/** The store file's text; an unreadable file (a directory, no permission) is a clear error, not a crash. */
function readStoreText(paths: Paths): string {
  try {
    return readPrivate(paths.storeFile).toString("utf8");
  } catch (e) {
    if (e instanceof SvError) throw e;
    const file = relative(process.cwd(), paths.storeFile) || paths.storeFile;
    throw new SvError(`the state file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: `check that ${file} is a readable file; if it is damaged, move it aside (mv ${file} ${file}.bad)`,
      cause: e,
    });
  }
}

function corrupt(paths: Paths, why: string): SvError {
  const file = relative(process.cwd(), paths.storeFile) || paths.storeFile;
  return new SvError(`the state file ${file} is corrupt: ${why}`, {
    hint: `move it aside (mv ${file} ${file}.bad) and run \`sv status\`; your service definitions are untouched, but sv forgets the processes it started, so stop them by hand if they still run`,
  });
}

const isNull = (v: unknown) => v === null;
const PID = { what: "a number (a process id above 1)", ok: (v: unknown) => isNull(v) || (Number.isSafeInteger(v) && (v as number) > 1) };
/** The sv driving a transition: only ever looked up, never signalled, and PID 1 when sv is a container's init. */
const OWNER_PID = { what: "a number (a process id)", ok: (v: unknown) => isNull(v) || (Number.isSafeInteger(v) && (v as number) >= 1) };
const INT_OR_NULL = { what: "a number", ok: (v: unknown) => isNull(v) || Number.isSafeInteger(v) };
const COUNT = { what: "a whole number ≥ 0", ok: (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0 };
// What sv writes (toISOString) is checked by shape, which is much cheaper than Date.parse; anything else must parse.
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TIMESTAMP = { what: "a timestamp", ok: (v: unknown) => isNull(v) || (typeof v === "string" && (ISO_UTC.test(v) || !Number.isNaN(Date.parse(v)))) };
const TEXT = { what: "text", ok: (v: unknown) => isNull(v) || typeof v === "string" };
const SECONDS = { what: "a number of seconds", ok: (v: unknown) => isNull(v) || (typeof v === "number" && Number.isFinite(v) && v >= 0) };

/**
 * Field types of a unit record beyond its enums. A hand-edited value of the wrong type would otherwise
 * surface far away (pid "abc" never matches, restarts "lots" + 1), or worse: pid 1 would be signalled as
 * group -1, which is every process on the machine.
 */
const FIELD_CHECKS: Partial<Record<keyof Unit, { what: string; ok: (v: unknown) => boolean }>> = {
  handle: { what: "null or a mapping with a `kind` (and any pid above 1)", ok: isHandle },
  spec: { what: "null or a mapping", ok: (v) => isNull(v) || (typeof v === "object" && !Array.isArray(v)) },
  owner_pid: OWNER_PID,
  owner_ticks: INT_OR_NULL,
  exit_code: INT_OR_NULL,
  restarts: COUNT,
  failures: COUNT,
  health_failures: COUNT,
  health_failed_at: TIMESTAMP,
  since: TIMESTAMP,
  started_at: TIMESTAMP,
  next_restart_at: TIMESTAMP,
  gave_up_at: TIMESTAMP,
  last_error: TEXT,
  start_duration_s: SECONDS,
};

const FIELD_CHECK_LIST = Object.entries(FIELD_CHECKS);

function isHandle(v: unknown): boolean {
  if (v === null) return true;
  if (typeof v !== "object" || Array.isArray(v) || typeof (v as { kind?: unknown }).kind !== "string") return false;
  const { pid, pgid } = v as { pid?: unknown; pgid?: unknown };
  return (pid === undefined || PID.ok(pid)) && (pgid === undefined || PID.ok(pgid));
}

function parseState(text: string, paths: Paths): StoreState {
  let data: unknown;
  try {
    // sv writes JSON (which is YAML, and parses ~15x faster); a hand-edited file may be any YAML.
    data = text.startsWith("{") ? parseJsonOrYaml(text) : Bun.YAML.parse(text);
  } catch (e) {
    throw corrupt(paths, `not valid YAML (${(e as Error).message})`);
  }
  if (data === null || data === undefined) return emptyState();
  if (typeof data !== "object" || Array.isArray(data)) throw corrupt(paths, "expected a mapping with `version` and `services`");
  const doc = data as { version?: unknown; services?: unknown };
  if (doc.version !== 1 && doc.version !== STORE_VERSION) {
    throw corrupt(paths, `unknown version ${JSON.stringify(doc.version)} (this sv reads versions 1 and ${STORE_VERSION}; a newer sv may have written it)`);
  }
  const raw = doc.services ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw corrupt(paths, "`services` must be a mapping");
  const units: Record<string, Unit> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "object" || value === null) throw corrupt(paths, `services.${name} must be a mapping`);
    const fields = doc.version === 1 ? upgradeUnitV1(value as Record<string, unknown>) : value;
    const unit = { ...newUnit(), ...(fields as Partial<Unit>) };
    if (!STATES.includes(unit.state)) throw corrupt(paths, `services.${name}.state "${unit.state}" is not a state`);
    if (!HEALTHS.includes(unit.health)) throw corrupt(paths, `services.${name}.health "${unit.health}" is not a health`);
    if (unit.wanted !== "up" && unit.wanted !== "down") throw corrupt(paths, `services.${name}.wanted must be up or down`);
    const bad = FIELD_CHECK_LIST.find(([field, check]) => !check.ok((unit as unknown as Record<string, unknown>)[field]));
    if (bad) throw corrupt(paths, `services.${name}.${bad[0]} must be ${bad[1].what}`);
    units[name] = unit;
  }
  return { version: STORE_VERSION, units };
}

function parseJsonOrYaml(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return Bun.YAML.parse(text);
  }
}

/**
 * The store as YAML in JSON form, one unit per line: still human-readable and greppable
 * (`grep api .sv/state/services.yml` shows its whole record), and JSON.parse reads it in a
 * fraction of what a YAML parser takes — `sv status` reads it on every call.
 */
function serialize(state: StoreState): string {
  const names = Object.keys(state.units).sort((a, b) => a.localeCompare(b));
  const lines = names.map((n) => `  ${JSON.stringify(n)}: ${JSON.stringify(state.units[n])}`);
  return `{"version": ${STORE_VERSION}, "services": {\n${lines.join(",\n")}\n}}\n`;
}

/** Temp file, fsync, rename, fsync the directory: a crash leaves the old file or the new one, never a mix. */
function writeAtomic(file: string, text: string): void {
  // One fixed name: only the lock holder writes, and a temp file left by a killed sv is simply overwritten.
  const tmp = `${file}.tmp`;
  const fd = createFresh(tmp, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is exhausted",
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a path component is not a directory",
  EISDIR: "it is a directory",
  EIO: "an I/O error",
};

/**
 * A failed write of the state as one clear error (the file on disk is the old one, whole: writes are
 * atomic). Anything but a file-system error is passed on as it is (a LockedError, a bug).
 */
function unwritable(paths: Paths, e: unknown): unknown {
  if (e instanceof SvError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !(code in WRITE_ERRORS)) return e;
  const dir = relative(process.cwd(), paths.stateDir) || paths.stateDir;
  return new SvError(`cannot write the state in ${dir}: ${WRITE_ERRORS[code]} (${code})`, {
    hint: code === "ENOSPC" || code === "EDQUOT" ? "free some space and run the command again; nothing was changed" : `make ${dir} a writable directory (state_dir: in sv.yml moves it); nothing was changed`,
    cause: e,
  });
}

/** A read-modify-write in progress: the state, and the events it produced. */
export interface Tx {
  state: StoreState;
  events: SvEvent[];
  /** The unit record, created on first use. */
  unit(name: string): Unit;
}

export interface LockOptions {
  /** How long to wait for the lock before a LockedError (exit 3). */
  waitMs?: number;
}

export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** lock -> read -> fn -> atomic write (if anything changed) -> append events -> unlock. */
export async function withState<T>(paths: Paths, fn: (tx: Tx) => T, opts: LockOptions = {}): Promise<T> {
  let lock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    ensurePrivateDir(paths.stateDir);
    ensurePrivateDir(dirname(paths.storeFile), 0o700);
    lock = await acquireLock(paths.lockFile, opts.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  } catch (e) {
    throw unwritable(paths, e);
  }
  try {
    // Before anything changes: an events file sv would refuse must not leave the state written and its events lost.
    checkPrivateFile(paths.eventsFile);
    const before = existsSync(paths.storeFile) ? readStoreText(paths) : "";
    const state = before ? parseState(before, paths) : emptyState();
    const tx: Tx = { state, events: [], unit: (name) => (state.units[name] ??= newUnit()) };
    const result = fn(tx);
    // An async fn would run on after the unlock, changing a state that is no longer ours to write.
    if (result instanceof Promise) throw new Error("bug: withState needs a synchronous function");
    const after = serialize(state);
    try {
      if (after !== before) writeAtomic(paths.storeFile, after);
      appendEvents(paths, tx.events);
    } catch (e) {
      throw unwritable(paths, e);
    }
    return result;
  } finally {
    lock.release();
  }
}
