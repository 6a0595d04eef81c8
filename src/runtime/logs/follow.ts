// Following a log as it grows, through rotation in place, replacement and deletion.
import { closeSync, fstatSync, statSync } from "node:fs";
import { openPrivate } from "../private-files.ts";
import { COPY_BYTES, readAt, splitLines } from "./bytes.ts";
import { rotatedPath } from "./files.ts";
import type { Tail } from "./tail.ts";

/** Bytes remembered from just before a follower's position, to find that position again after a rotation. */
const MARK_BYTES = 64;
/**
 * The most one poll reads of the log itself. A poll reads to the end the file has when it looks, never
 * chasing a writer faster than it: that poll did not return while `yes` wrote, and held every line in
 * memory until the OOM killer came. A writer that outruns even this is followed a poll at a time, in
 * bounded memory.
 */
const POLL_BYTES = 16 * 1024 * 1024;

export interface Follower {
  /** The complete lines written since the last call. */
  poll(): string[];
  /** Where it stands: the file it reads (null before it exists) and the offset reached, an unfinished line included. */
  position(): { ino: number | null; offset: number };
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
  /** Read `file` from `from` to the end it has now, at most `limit` bytes; the position reached. */
  const readFrom = (file: number, from: number, limit = Number.POSITIVE_INFINITY): number => {
    let at = from;
    const end = Math.min(fstatSync(file).size, from + limit);
    while (at < end) {
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
      return openPrivate(rotatedPath(path, 1), "read");
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
      fd = openPrivate(path, "read");
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
        pos = readFrom(fd, pos, POLL_BYTES);
        if (current !== null && current !== ino && pos >= fstatSync(fd).size) {
          // Replaced by a new file: the old one is complete, an unfinished last line included.
          closeSync(fd);
          fd = null;
          if (pending.length) out.push(pending.toString("utf8"));
          pending = Buffer.alloc(0);
        }
      }
      if (fd === null && current !== null) {
        open(0);
        if (fd !== null) pos = readFrom(fd, 0, POLL_BYTES);
      }
      return out.splice(0);
    },
    position() {
      return fd === null ? { ino: null, offset: 0 } : { ino, offset: pos };
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** A Follower over a backend's own log stream (a container's): its last `lines` lines, then new ones, buffered between polls. */
export function streamFollower(follow: (unit: string, lines: number, onLine: (line: string) => void) => { close(): void }, unit: string, lines: number): Follower {
  let buffered: string[] = [];
  const stream = follow(unit, lines, (line) => buffered.push(line));
  return {
    poll: () => {
      const out = buffered;
      buffered = [];
      return out;
    },
    position: () => ({ ino: null, offset: 0 }),
    close: () => stream.close(),
  };
}
