// Noticing exits of processes we are not the parent of, without polling /proc: one pidfd per process
// (pidfd_open, Linux 5.3+) and one poll(2) over all of them. A pidfd turns readable the moment its
// process exits — before it is reaped, which matters where init reaps orphans late.
import { FFIType, ptr } from "bun:ffi";
import { libcLoader } from "./libc.ts";
import { closeSync } from "node:fs";
import { isSameProcess } from "./identity.ts";

const SYS_PIDFD_OPEN = 434; // the same number on every Linux architecture (asm-generic)
const POLLIN = 1;

const lib = libcLoader({
  syscall: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
});

interface Watched {
  pid: number;
  ticks: number;
  /** -1: no pidfd (unsupported or failed): checked through /proc instead. */
  fd: number;
  /** Known to have exited already (gone when we looked, or reused). */
  gone: boolean;
}

/** Tracks a set of processes (by key) and reports which have exited since. */
export class ExitWatch {
  private watched = new Map<string, Watched>();
  private pollfds = new Int32Array(0);

  /** Make the watched set exactly `targets` (key -> pid and start ticks); reuses pidfds that still match. */
  sync(targets: Map<string, { pid: number; ticks: number }>): void {
    for (const [key, w] of this.watched) {
      const t = targets.get(key);
      if (!t || t.pid !== w.pid || t.ticks !== w.ticks) this.forget(key);
    }
    for (const [key, t] of targets) if (!this.watched.has(key)) this.watched.set(key, this.open(t.pid, t.ticks));
    this.pollfds = new Int32Array(this.watched.size * 2);
  }

  private open(pid: number, ticks: number): Watched {
    const c = lib();
    const fd = c ? c.syscall(SYS_PIDFD_OPEN, pid, 0) : -1;
    // Checked after opening: a pidfd opened on a reused pid would watch the wrong process.
    const gone = !isSameProcess(pid, ticks);
    return { pid, ticks, fd, gone };
  }

  private forget(key: string): void {
    const w = this.watched.get(key);
    if (w && w.fd >= 0) closeSync(w.fd);
    this.watched.delete(key);
  }

  /** Keys whose process has exited. One poll(2) for all pidfds; /proc only for those without one. */
  exited(): string[] {
    const out: string[] = [];
    const keys: string[] = [];
    let n = 0;
    for (const [key, w] of this.watched) {
      if (w.gone) out.push(key);
      else if (w.fd < 0) {
        if (!isSameProcess(w.pid, w.ticks)) out.push(key);
      } else {
        this.pollfds[n * 2] = w.fd;
        this.pollfds[n * 2 + 1] = POLLIN; // events (low 16 bits); revents (high 16 bits) cleared
        keys.push(key);
        n++;
      }
    }
    if (n > 0 && lib()!.poll(ptr(this.pollfds), n, 0) > 0) {
      for (let i = 0; i < n; i++) if (this.pollfds[i * 2 + 1]! >>> 16 !== 0) out.push(keys[i]!);
    }
    return out;
  }

  close(): void {
    for (const key of [...this.watched.keys()]) this.forget(key);
  }
}

/** Is the pidfd fast path available here (for tests and diagnostics)? */
export function hasPidfd(): boolean {
  const c = lib();
  if (!c) return false;
  const fd = c.syscall(SYS_PIDFD_OPEN, process.pid, 0);
  if (fd < 0) return false;
  closeSync(fd);
  return true;
}
