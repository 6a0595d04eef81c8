// Noticing exits of processes we are not the parent of, without polling: one pidfd per process
// (pidfd_open, Linux 5.3+), all in one epoll set of our own, and that epoll fd handed to Bun's event
// loop as if it were a connected socket (Bun.connect with `fd`, over a dup). A pidfd turns readable the
// moment its process exits — before it is reaped, which matters where init reaps orphans late — which
// makes our epoll fd readable, which wakes Bun's loop; its read then fails (EINVAL) and Bun closes the
// "socket" (the dup): that close is the signal to collect the exits with epoll_wait(0), and to arm a new
// dup. No thread, no timer, one Bun socket however many processes. Where any of this is unavailable (or a
// close comes with nothing ready, which would be a Bun change), processes are looked up in /proc every
// POLL_MS instead.
import { FFIType, ptr } from "bun:ffi";
import { closeSync } from "node:fs";
import { isSameProcess } from "./identity.ts";
import { libcLoader } from "./libc.ts";

const SYS_PIDFD_OPEN = 434; // the same number on every Linux architecture (asm-generic)
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 1;
const F_DUPFD_CLOEXEC = 1030;
// struct epoll_event { u32 events; u64 data; } is packed on x86-64 (12 bytes), naturally aligned elsewhere.
const EVENT_SIZE = process.arch === "x64" ? 12 : 16;
const DATA_AT = process.arch === "x64" ? 4 : 8;
/** How often processes are looked up in /proc where the epoll path is unavailable. */
export const POLL_MS = 10;
/** Closes with nothing ready in a row before the epoll path is given up. */
const MAX_SPURIOUS = 3;

const lib = libcLoader({
  syscall: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
  epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
});

// Bun.connect takes `fd` (bun-types declares FdSocketOptions but leaves it out of connect's overloads).
const connectFd = Bun.connect as unknown as (options: Bun.FdSocketOptions) => Promise<Bun.Socket>;

/** One wait of Bun's on the epoll set: a socket over a dup of it, until it fires once or is given up. */
interface Armed {
  generation: number;
  socket: Bun.Socket | null;
  fired: boolean;
}

interface Watched {
  pid: number;
  ticks: number;
  /** Its pidfd, in the epoll set; -1 when it has none (looked up in /proc instead). */
  fd: number;
  /** Known to have exited. */
  gone: boolean;
}

/** Tracks a set of processes (by key), calls `onExit` when one exits, and says which have exited. */
export class ExitWatch {
  private watched = new Map<string, Watched>();
  private byFd = new Map<number, Watched>();
  /** Our epoll set of pidfds; -1 before first use, null where the epoll path is unavailable. */
  private epfd: number | null = -1;
  /** Bumped whenever the armed socket is given up, so its late callbacks are ignored. */
  private generation = 0;
  private armed: Armed | null = null;
  private spurious = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly event = new Uint8Array(EVENT_SIZE);

  constructor(private readonly onExit: () => void = () => {}) {}

  /** Make the watched set exactly `targets` (key -> pid and start ticks); keeps what still matches. */
  sync(targets: Map<string, { pid: number; ticks: number }>): void {
    for (const [key, w] of this.watched) {
      const t = targets.get(key);
      if (!t || t.pid !== w.pid || t.ticks !== w.ticks) this.forget(key);
    }
    for (const [key, t] of targets) if (!this.watched.has(key)) this.watched.set(key, this.open(t.pid, t.ticks));
    this.arm();
    this.updateTimer();
  }

  /** Keys whose process has exited. */
  exited(): string[] {
    const out: string[] = [];
    for (const [key, w] of this.watched) if (w.gone) out.push(key);
    return out;
  }

  close(): void {
    for (const key of [...this.watched.keys()]) this.forget(key);
    this.disarm();
    this.updateTimer();
    if (this.epfd !== null && this.epfd >= 0) closeSync(this.epfd);
    this.epfd = -1;
  }

  private open(pid: number, ticks: number): Watched {
    const w: Watched = { pid, ticks, fd: -1, gone: false };
    const c = lib();
    const epfd = this.epoll();
    const fd = c && epfd !== null ? c.syscall(SYS_PIDFD_OPEN, pid, 0) : -1;
    // Checked after opening: a pidfd opened on a reused pid would watch the wrong process.
    if (!isSameProcess(pid, ticks)) {
      w.gone = true;
      if (fd >= 0) closeSync(fd);
      queueMicrotask(this.onExit);
      return w;
    }
    if (fd >= 0 && this.control(EPOLL_CTL_ADD, fd)) {
      w.fd = fd;
      this.byFd.set(fd, w);
    } else if (fd >= 0) closeSync(fd);
    return w;
  }

  private forget(key: string): void {
    const w = this.watched.get(key);
    if (!w) return;
    this.drop(w);
    this.watched.delete(key);
  }

  /** Take a process's pidfd out of the epoll set and close it. */
  private drop(w: Watched): void {
    if (w.fd < 0) return;
    this.control(EPOLL_CTL_DEL, w.fd);
    this.byFd.delete(w.fd);
    closeSync(w.fd);
    w.fd = -1;
  }

  /** Our epoll fd, created on first use; null where it cannot be. */
  private epoll(): number | null {
    if (this.epfd === -1) {
      const c = lib();
      const fd = c ? c.epoll_create1(EPOLL_CLOEXEC) : -1;
      this.epfd = fd >= 0 ? fd : null;
    }
    return this.epfd;
  }

  private control(op: number, fd: number): boolean {
    const epfd = this.epoll();
    if (epfd === null) return false;
    const view = new DataView(this.event.buffer);
    view.setUint32(0, EPOLLIN, true);
    view.setBigUint64(DATA_AT, BigInt(fd), true);
    return lib()!.epoll_ctl(epfd, op, fd, ptr(this.event)) === 0;
  }

  /** While any pidfd is in the set, have Bun wait for the set to turn readable (over a dup Bun may close). */
  private arm(): void {
    if (this.byFd.size === 0) return this.disarm();
    if (this.armed || this.epfd === null || this.epfd < 0) return;
    const dup = lib()!.fcntl(this.epfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return this.giveUpEpoll();
    const armed: Armed = { generation: this.generation, socket: null, fired: false };
    this.armed = armed;
    // Bun may report one failed read as both an error and a close.
    const fired = () => {
      if (armed.fired || armed.generation !== this.generation) return;
      armed.fired = true;
      this.armed = null;
      this.collect();
    };
    connectFd({ fd: dup, socket: { data() {}, close: fired, error: fired } }).then(
      (socket) => {
        if (armed.fired) return;
        if (armed.generation !== this.generation) socket.terminate();
        else armed.socket = socket;
      },
      () => {
        try {
          closeSync(dup);
        } catch {}
        if (armed.generation === this.generation) this.giveUpEpoll();
      },
    );
  }

  private disarm(): void {
    this.generation++;
    this.armed?.socket?.terminate();
    this.armed = null;
  }

  /** The set turned readable: mark the processes whose pidfd is ready as exited, and arm again. */
  private collect(): void {
    const epfd = this.epfd;
    if (epfd === null || epfd < 0) return;
    const max = Math.max(1, this.byFd.size);
    const events = new Uint8Array(max * EVENT_SIZE);
    const n = lib()!.epoll_wait(epfd, ptr(events), max, 0);
    const view = new DataView(events.buffer);
    let any = false;
    for (let i = 0; i < n; i++) {
      const w = this.byFd.get(Number(view.getBigUint64(i * EVENT_SIZE + DATA_AT, true)));
      if (!w) continue;
      this.drop(w);
      // Readable means exited; a process still there (which would be a kernel surprise) is polled from now on.
      if (!isSameProcess(w.pid, w.ticks)) any = w.gone = true;
    }
    this.spurious = n > 0 ? 0 : this.spurious + 1;
    if (this.spurious >= MAX_SPURIOUS) this.giveUpEpoll();
    else this.arm();
    this.updateTimer();
    if (any) this.onExit();
  }

  /** The epoll path does not work here: every process is looked up in /proc from now on. */
  private giveUpEpoll(): void {
    this.disarm();
    for (const w of this.watched.values()) this.drop(w);
    if (this.epfd !== null && this.epfd >= 0) closeSync(this.epfd);
    this.epfd = null;
    this.updateTimer();
  }

  /** A /proc poll only while some live process has no pidfd in the set. */
  private updateTimer(): void {
    let needed = false;
    for (const w of this.watched.values()) if (w.fd < 0 && !w.gone) needed = true;
    if (needed && !this.timer) this.timer = setInterval(() => this.pollProc(), POLL_MS);
    else if (!needed && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private pollProc(): void {
    let any = false;
    for (const w of this.watched.values()) if (w.fd < 0 && !w.gone && !isSameProcess(w.pid, w.ticks)) any = w.gone = true;
    if (!any) return;
    this.updateTimer();
    this.onExit();
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
