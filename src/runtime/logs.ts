// Service logs: read the tail (seeking from the end, across rotated files), follow, rotate in place.
import { FFIType } from "bun:ffi";
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { libcLoader } from "./libc.ts";

const NEWLINE = 0x0a;
const CHUNK_BYTES = 64 * 1024;
const COPY_BYTES = 1024 * 1024;
/** Bytes remembered from just before a follower's position, to find that position again after a rotation. */
const MARK_BYTES = 64;

/** The n-th rotated file of a log: `api.log.1` is the newest. */
export function rotatedPath(path: string, n: number): string {
  return `${path}.${n}`;
}

/** A log and its rotated files that exist, oldest first, the current file last. */
export function logSequence(path: string): string[] {
  const files: string[] = [];
  for (let n = 1; existsSync(rotatedPath(path, n)); n++) files.unshift(rotatedPath(path, n));
  return existsSync(path) ? [...files, path] : files;
}

/** Does the unit have any log, current or rotated? */
export function hasLog(path: string): boolean {
  return existsSync(path) || existsSync(rotatedPath(path, 1));
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function splitLines(buf: Buffer): { lines: string[]; rest: Buffer } {
  const lines: string[] = [];
  let start = 0;
  for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
    lines.push(buf.toString("utf8", start, nl));
    start = nl + 1;
  }
  return { lines, rest: buf.subarray(start) };
}

export interface Tail {
  /** The last complete lines, oldest first. */
  lines: string[];
  /** The unfinished last line, if the log does not end with a newline. */
  partial: Buffer;
  /** Where the current file ends and following starts, and which file that is. */
  offset: number;
  ino: number | null;
}

/**
 * The last `n` lines of a log, reading backwards in chunks from the end: a large file is never read
 * whole. Rotated files are opened only when the current one holds fewer lines; the files are read as
 * one stream, so a line cut in two by a rotation comes back whole.
 */
export function readTail(path: string, n: number): Tail {
  const files = logSequence(path);
  const chunks: Buffer[] = [];
  let newlines = 0;
  let offset = 0;
  let ino: number | null = null;
  // n complete lines need n+1 newlines: the one ending the line before them marks where they start.
  for (let i = files.length - 1; i >= 0 && newlines <= n; i--) {
    let fd: number;
    try {
      fd = openSync(files[i]!, "r");
    } catch {
      continue; // rotated away while we read; what we have is still a consistent tail
    }
    try {
      const st = fstatSync(fd);
      if (files[i] === path) [offset, ino] = [st.size, st.ino];
      for (let end = st.size; end > 0 && newlines <= n; ) {
        const start = Math.max(0, end - CHUNK_BYTES);
        const chunk = readAt(fd, start, end - start);
        for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) newlines++;
        chunks.unshift(chunk);
        end = start;
      }
    } finally {
      closeSync(fd);
    }
  }
  const data = Buffer.concat(chunks);
  const lastNewline = data.lastIndexOf(NEWLINE);
  const partial = data.subarray(lastNewline + 1);
  const { lines } = splitLines(data.subarray(0, lastNewline + 1));
  // Without a newline before them, the first bytes are the end of a line we did not read whole.
  const whole = newlines > n ? lines.slice(1) : lines;
  return { lines: n === 0 ? [] : whole.slice(-n), partial: Buffer.from(partial), offset, ino };
}

/** The last `n` lines of a log for display, an unfinished last line included. */
export function tailLog(path: string, n: number): string[] {
  if (n <= 0) return [];
  const tail = readTail(path, n);
  return tail.partial.length ? [...tail.lines, tail.partial.toString("utf8")].slice(-n) : tail.lines;
}

export interface Follower {
  /** The complete lines written since the last call. */
  poll(): string[];
  close(): void;
}

/**
 * Follow a log from `start` (default: its end). Survives rotation in place (the bytes written after our
 * position but rotated out are read from `.1`), replacement by a new file (the old one is drained
 * first), deletion (the writer's inode is still read), and a log that does not exist yet.
 */
export function followLog(path: string, start?: Pick<Tail, "offset" | "ino" | "partial">): Follower {
  let fd: number | null = null;
  let ino = -1;
  let pos = 0;
  let pending: Buffer = start?.partial ?? Buffer.alloc(0);
  /** The last bytes read, which must still sit just before `pos`; if not, the file was rotated under us. */
  let mark: Buffer = Buffer.alloc(0);
  const out: string[] = [];

  const consume = (data: Buffer) => {
    mark = Buffer.from(Buffer.concat([mark, data]).subarray(-MARK_BYTES));
    const { lines, rest } = splitLines(Buffer.concat([pending, data]));
    out.push(...lines);
    pending = Buffer.from(rest);
  };
  /** Read `file` from `from` to its end; the position reached. */
  const readFrom = (file: number, from: number): number => {
    let at = from;
    for (let end = fstatSync(file).size; at < end; end = fstatSync(file).size) {
      const chunk = readAt(file, at, Math.min(COPY_BYTES, end - at));
      if (chunk.length === 0) break;
      consume(chunk);
      at += chunk.length;
    }
    return at;
  };
  /** Do the bytes before `end` in `file` match the end of what we read? (Fewer than the mark near the start.) */
  const hasMarkAt = (file: number, end: number): boolean => {
    const n = Math.min(end, mark.length);
    return readAt(file, end - n, n).equals(mark.subarray(mark.length - n));
  };
  const openOlder = (): number | null => {
    try {
      return openSync(rotatedPath(path, 1), "r");
    } catch {
      return null;
    }
  };
  /** The `.1` we last finished reading (or that was there when we started): a different one means a new rotation. */
  let olderIno: number | null = null;
  const olderNow = (): number | null => {
    try {
      return statSync(rotatedPath(path, 1)).ino;
    } catch {
      return null;
    }
  };
  // What we read is no longer before `pos`: the log was rotated. Finish from `.1`, then find our place.
  const relocate = (current: number) => {
    const older = openOlder();
    if (older === null) return void (pos = 0);
    try {
      const olderSize = fstatSync(older).size;
      olderIno = fstatSync(older).ino;
      if (olderSize >= pos && hasMarkAt(older, pos)) {
        readFrom(older, pos); // copy-truncate, or a collapse that cut past us: the rest is in .1
        pos = 0;
      } else if (pos > olderSize && hasMarkAt(current, pos - olderSize)) pos -= olderSize; // collapsed before us
      else pos = 0; // truncated by someone else: start over
    } finally {
      closeSync(older);
    }
  };
  /**
   * At offset 0 there is no mark to check, so a rotation shows only as a new `.1`. It is finished (and so
   * safe to read) once the log no longer starts with what `.1` starts with; while `.1` is still being
   * copied they start alike, and the log is read as usual.
   */
  const rotatedAtStart = (current: number): boolean => {
    const now = olderNow();
    if (now === null || now === olderIno) return false;
    const older = openOlder();
    if (older === null) return false;
    try {
      const olderSize = fstatSync(older).size;
      const n = Math.min(MARK_BYTES, olderSize, fstatSync(current).size);
      if (olderSize === 0) return false;
      if (n > 0 && readAt(older, 0, n).equals(readAt(current, 0, n))) {
        olderIno = now;
        return false;
      }
      return true;
    } finally {
      closeSync(older);
    }
  };
  const open = (offset: number | "end") => {
    try {
      fd = openSync(path, "r");
    } catch {
      return;
    }
    const st = fstatSync(fd);
    ino = st.ino;
    olderIno = olderNow();
    pos = offset === "end" ? st.size : Math.min(offset, st.size);
    mark = readAt(fd, Math.max(0, pos - MARK_BYTES), Math.min(pos, MARK_BYTES));
  };

  if (!start) open("end");
  else if (start.ino !== null) {
    open(start.offset);
    if (fd !== null && ino !== start.ino) [pos, mark, pending] = [0, Buffer.alloc(0), Buffer.alloc(0)];
  }

  return {
    poll() {
      let current: number | null = null;
      try {
        current = statSync(path).ino;
      } catch {}
      if (fd !== null) {
        const size = fstatSync(fd).size;
        if (size < pos || !hasMarkAt(fd, pos) || (pos === 0 && rotatedAtStart(fd))) relocate(fd);
        pos = readFrom(fd, pos);
        if (current !== null && current !== ino) {
          // Replaced by a new file: the old one is complete, an unfinished last line included.
          closeSync(fd);
          fd = null;
          if (pending.length) out.push(pending.toString("utf8"));
          pending = Buffer.alloc(0);
        }
      }
      if (fd === null && current !== null) {
        open(0);
        if (fd !== null) pos = readFrom(fd, 0);
      }
      return out.splice(0);
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

const FALLOC_FL_COLLAPSE_RANGE = 0x08;
const MAX_DELTA_PASSES = 8;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** fallocate(2) and flock(2) through bun:ffi, or null where libc cannot be loaded (then: copy-truncate, no lock). */
const loadLibc = libcLoader({
  fallocate: { args: [FFIType.i32, FFIType.i32, FFIType.i64, FFIType.i64], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
});

/** A non-blocking exclusive flock on the log itself: one rotation at a time. Writers never flock, so they are not held up. */
function tryLock(fd: number): { release(): void } | null {
  const c = loadLibc();
  if (!c) return { release() {} };
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) return null;
  return { release: () => void c.flock(fd, LOCK_UN) };
}

/** The offset just past the last newline in the first `size` bytes of `fd` (0 when there is none). */
function endOfLastLine(fd: number, size: number): number {
  for (let end = size; end > 0; end -= CHUNK_BYTES) {
    const start = Math.max(0, end - CHUNK_BYTES);
    const nl = readAt(fd, start, end - start).lastIndexOf(NEWLINE);
    if (nl !== -1) return start + nl + 1;
  }
  return 0;
}

/** Copy `from` to `to` at the same offsets, from `start` until `end` or the end of the file; the offset reached. */
function copyRange(from: number, to: number, start: number, end = Number.POSITIVE_INFINITY): number {
  // One buffer for the whole copy: no allocation (and so no GC pause) between the last read and the truncate.
  copyBuffer ??= Buffer.allocUnsafe(COPY_BYTES);
  let at = start;
  while (at < end) {
    const n = readSync(from, copyBuffer, 0, Math.min(COPY_BYTES, end - at), at);
    if (n === 0) break;
    writeSync(to, copyBuffer, 0, n, at);
    at += n;
  }
  return at;
}
let copyBuffer: Buffer | undefined;

export type RotateResult = { rotated: false } | { rotated: true; method: "collapse" | "copy-truncate"; bytes: number };

/**
 * Rotate `path` when it has reached `maxSizeBytes`: shift `.1`→`.2` … (dropping what would become
 * `.keep+1`), copy the log to `.1`, then cut the copied bytes out of the log in place. In place, because
 * the service keeps writing through its own O_APPEND fd: renaming the file would leave it writing to
 * `.1` forever. Safe to call from several sv at once (an flock on the log makes the others skip).
 *
 * Why nothing is lost: the copied prefix is removed with fallocate(FALLOC_FL_COLLAPSE_RANGE), which
 * the kernel does under the inode lock that O_APPEND writes also take, so a line written at any moment
 * lands after the bytes we copied and stays in the log. Collapse works on whole filesystem blocks, so
 * up to one block (4 KiB) of the copied tail is trimmed from `.1` and stays at the head of the log: a
 * line may start in `.1` and end in the log. readTail reads the files as one stream and joins it.
 *
 * Where collapse is not supported (tmpfs, older filesystems: EOPNOTSUPP), this falls back to
 * copy-truncate: copy, copy again what was appended meanwhile until a read finds nothing new, then
 * truncate to 0. Lines written between that last empty read and the truncate are lost: a few
 * microseconds, but longer if sv is preempted right there (test/rotate.test.ts measures it: a writer
 * that never pauses lost up to a few % of its lines). No file-level operation can make "copy" and
 * "truncate" one atomic step against another writer. btrfs has no collapse range either.
 */
export function rotateLog(path: string, maxSizeBytes: number, keep: number): RotateResult {
  let fd: number;
  try {
    fd = openSync(path, "r+");
  } catch {
    return { rotated: false };
  }
  let lock: { release(): void } | null = null;
  try {
    if (fstatSync(fd).size < Math.max(1, maxSizeBytes)) return { rotated: false };
    lock = tryLock(fd);
    // Busy means another sv is rotating this log right now; a second look at the size catches one that just did.
    if (!lock || fstatSync(fd).size < maxSizeBytes) return { rotated: false };
    if (keep <= 0) {
      ftruncateSync(fd, 0);
      return { rotated: true, method: "copy-truncate", bytes: 0 };
    }
    for (let n = keep + 1; existsSync(rotatedPath(path, n)); n++) unlinkSync(rotatedPath(path, n));
    for (let n = keep - 1; n >= 1; n--) if (existsSync(rotatedPath(path, n))) renameSync(rotatedPath(path, n), rotatedPath(path, n + 1));
    const out = openSync(rotatedPath(path, 1), "w+");
    try {
      // Each pass copies up to the size seen when it starts: a writer that never pauses cannot keep us here.
      let copied = copyRange(fd, out, 0, fstatSync(fd).size);
      const block = fstatSync(fd).blksize || 4096;
      // Strictly below what we copied: collapsing up to the end of the file is refused (EINVAL).
      const cut = Math.floor((copied - 1) / block) * block;
      const ffi = cut > 0 ? loadLibc() : null;
      if (ffi) {
        ftruncateSync(out, cut);
        fdatasyncSync(out);
        if (ffi.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, cut) === 0) return { rotated: true, method: "collapse", bytes: cut };
        copied = cut; // not supported here: copy the rest again below
      }
      // Copy what was appended meanwhile until a pass finds nothing new (at most a few passes), sync, copy
      // what came during the sync up to the very end, and truncate at once. Lines written since that last
      // read are lost; the bytes of the last copy are not synced.
      for (let pass = 0, last = -1; copied !== last && pass < MAX_DELTA_PASSES; pass++) [last, copied] = [copied, copyRange(fd, out, copied, fstatSync(fd).size)];
      fdatasyncSync(out);
      copied = copyRange(fd, out, copied);
      ftruncateSync(fd, 0);
      // A read can catch a write half done: a torn last line in .1 would be garbage (its rest is gone
      // with the truncate), so .1 ends at its last newline.
      ftruncateSync(out, endOfLastLine(out, copied));
      return { rotated: true, method: "copy-truncate", bytes: copied };
    } finally {
      closeSync(out);
    }
  } finally {
    lock?.release();
    closeSync(fd);
  }
}
