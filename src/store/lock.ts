// An exclusive flock(2) on the store's lock file, through bun:ffi. The kernel drops it when the holder dies.
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, ftruncateSync, writeSync } from "node:fs";
import { LockedError } from "../errors.ts";
import { openPrivate, readPrivate } from "../runtime/private-files.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EINTR = 4;
const EWOULDBLOCK = 11;

let libc: ReturnType<typeof openLibc> | undefined;
function openLibc() {
  return dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

export interface Lock {
  release(): void;
}

/** Try once; true when we now hold the lock. */
function tryFlock(fd: number): boolean {
  libc ??= openLibc();
  for (;;) {
    if (libc.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = read.i32(libc.__errno_location()!, 0);
    if (errno === EWOULDBLOCK) return false;
    if (errno !== EINTR) throw new Error(`flock failed with errno ${errno}`);
  }
}

/**
 * Take the lock, polling with LOCK_NB: a blocking flock would freeze the JS thread and its signal
 * handlers. Gives up after `waitMs` with a LockedError naming the holder.
 */
export async function acquireLock(file: string, waitMs: number): Promise<Lock> {
  const fd = openPrivate(file, "update", 0o600);
  const deadline = performance.now() + waitMs;
  let pauseMs = 1;
  while (!tryFlock(fd)) {
    if (performance.now() >= deadline) {
      const holder = readPrivate(file).toString("utf8").trim();
      closeSync(fd);
      throw new LockedError(
        `the store is locked${holder ? ` by ${holder}` : ""}`,
        waitMs === 0 ? "another sv is changing state; retry, or drop --no-wait-lock to wait" : "another sv holds the lock; it is released when that process exits",
      );
    }
    await Bun.sleep(pauseMs + Math.random() * pauseMs);
    pauseMs = Math.min(pauseMs * 2, 20);
  }
  // Say who holds it, for the message above. The flock lives on the inode, so rewriting is safe.
  ftruncateSync(fd, 0);
  writeSync(fd, `pid ${process.pid} (sv ${process.argv.slice(2, 4).join(" ")})\n`, 0);
  return { release: () => closeSync(fd) };
}
