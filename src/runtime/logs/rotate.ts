// Rotating a log in place: fallocate collapse-range where supported, copy-truncate otherwise.
import { FFIType } from "bun:ffi";
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { libcLoader } from "../libc.ts";
import { createFresh, openPrivate } from "../private-files.ts";
import { CHUNK_BYTES, COPY_BYTES, NEWLINE, readAt } from "./bytes.ts";
import { rotatedPath } from "./files.ts";

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
    fd = openPrivate(path, "modify");
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
    const out = createFresh(rotatedPath(path, 1), 0o600, "read-write");
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
