// TCP probe: does host:port accept a connection within the timeout?
//
// Fast path: an IPv4 literal (or "localhost", as 127.0.0.1) is probed with a non-blocking connect(2) through
// bun:ffi. On loopback the kernel runs the whole handshake (or the refusal) inside that call, so one poll(2) right
// after it tells the outcome: no event-loop round trips, and a probe costs what the kernel spends on it (about
// 25 µs for an accepted connection, 12 µs for a refused one, on a 2-vCPU VM). IPv6 literals and host names, and
// any machine where libc cannot be loaded, keep the Bun.connect path.
import { FFIType, read } from "bun:ffi";
import { libcLoader } from "../runtime/libc.ts";
import { constants } from "node:os";

/** Resolves null when a connection opens, else the reason it did not. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | null> {
  const ip = host === "localhost" ? LOOPBACK : ipv4Bytes(host);
  const sys = ip && Number.isInteger(port) && port > 0 && port < 65536 ? loadLibc() : null;
  if (!sys || !ip) return probeWithBunConnect(host, port, timeoutMs);
  const fast = probeWithSyscalls(sys, ip, host, port, timeoutMs);
  // "localhost" may also mean ::1, which Bun.connect tries too. Only a service that refuses on 127.0.0.1 pays for
  // that path (not one that timed out: it would wait the whole timeout again).
  if (host === "localhost") return fast.then((reason) => (reason === null || reason === timedOut(host, port, timeoutMs) ? reason : probeWithBunConnect(host, port, timeoutMs)));
  return fast;
}

const refused = (host: string, port: number) => `${host}:${port} refused the connection`;
const timedOut = (host: string, port: number, timeoutMs: number) => `${host}:${port} did not accept a connection within ${timeoutMs} ms`;

/** The probe as it always was: Bun.connect, for names and IPv6. */
function probeWithBunConnect(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => finish(timedOut(host, port, timeoutMs)), timeoutMs);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(socket) {
          socket.end();
          finish(null);
        },
        data() {},
        error(_socket, error) {
          finish(`${host}:${port}: ${error.message}`);
        },
        connectError(_socket, error) {
          finish(`${refused(host, port)}${(error as NodeJS.ErrnoException).code && (error as NodeJS.ErrnoException).code !== "ECONNREFUSED" ? ` (${(error as NodeJS.ErrnoException).code})` : ""}`);
        },
      },
    }).catch((error: Error) => finish(`${refused(host, port)} (${(error as NodeJS.ErrnoException).code ?? error.message})`));
  });
}

// ---- the fast path ----

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const POLLOUT = 0x4;
const EINTR = 4;
const ECONNREFUSED = 111;
const EINPROGRESS = 115;

const LOOPBACK = new Uint8Array([127, 0, 0, 1]);

/** The 4 bytes of a dotted-quad IPv4 literal, or null. Strict: no leading zeros (inet_aton would read them as octal). */
export function ipv4Bytes(host: string): Uint8Array | null {
  const parts = host.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    bytes[i] = Number(p);
  }
  return bytes;
}

/** libc through bun:ffi, loaded on first use; null where it cannot be loaded (then every probe uses Bun.connect). */
const loadLibc = libcLoader({
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});
type Libc = NonNullable<ReturnType<typeof loadLibc>>;

const errnoOf = (sys: Libc) => read.i32(sys.__errno_location()!, 0);

let errnoNames: Map<number, string> | undefined;
/** "ENETUNREACH" for 101; "errno N" for a number node:os does not name. */
export function errnoName(errno: number): string {
  errnoNames ??= new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** The reason for a connect that ended with `errno` (0 = connected). */
export function connectReason(host: string, port: number, errno: number): string | null {
  if (errno === 0) return null;
  if (errno === ECONNREFUSED) return refused(host, port);
  return `${host}:${port}: connect failed (${errnoName(errno)})`;
}

// Scratch memory for the syscalls, reused by every probe: each call below is synchronous, so probes never share
// it across an await.
const sockaddr = Buffer.alloc(16); // struct sockaddr_in: family (host order), port (network order), address, zero
sockaddr.writeUInt16LE(AF_INET, 0);
const pollfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
const optval = Buffer.alloc(4);
const optlen = Buffer.alloc(4);

/** Where a connect stands: `PENDING` while the handshake is under way, else its errno (0 = connected). */
const PENDING = -1;
function connectState(sys: Libc, fd: number): number {
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(POLLOUT, 4);
  pollfd.writeInt16LE(0, 6);
  const n = sys.poll(pollfd, 1, 0);
  if (n < 0) {
    const errno = errnoOf(sys);
    return errno === EINTR ? PENDING : errno;
  }
  if (n === 0) return PENDING;
  const revents = pollfd.readInt16LE(6);
  if (revents === POLLOUT) return 0;
  // POLLERR/POLLHUP: the handshake failed; SO_ERROR says why (and clears it).
  optlen.writeUInt32LE(4, 0);
  if (sys.getsockopt(fd, SOL_SOCKET, SO_ERROR, optval, optlen) !== 0) return errnoOf(sys);
  return optval.readInt32LE(0);
}

/**
 * Connect once. Linux answers a non-blocking TCP connect with EINPROGRESS even on loopback, yet there the whole
 * handshake (or the refusal) has already run inside the call: a poll(2) with timeout 0 right after it tells the
 * outcome. Only when that says "still pending" does the probe wait (awaitConnect).
 *
 * The socket is closed with a plain close(2), deliberately without SO_LINGER {on, 0}: that would spare us the
 * TIME_WAIT entry a connected probe leaves (thousands under `sv watch`), but the server then reads ECONNRESET
 * instead of EOF. Tried: a Node `net` server without an 'error' handler crashes on it (unhandled 'error' event),
 * and a plain Python accept/recv loop gets ConnectionResetError where it got b'' after a FIN; servers that log
 * read errors would log "connection reset by peer" for every check. A health check must not hurt or spam what it
 * checks. TIME_WAIT on the probing side is cheap by contrast: a few hundred bytes of kernel memory each, capped
 * by tcp_max_tw_buckets, and on loopback a new connect may reuse the tuple (tcp_tw_reuse = 2, Linux's default).
 */
function probeWithSyscalls(sys: Libc, ip: Uint8Array, host: string, port: number, timeoutMs: number): Promise<string | null> {
  const fd = sys.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Promise.resolve(connectReason(host, port, errnoOf(sys)));
  let waiting = false;
  try {
    sockaddr.writeUInt16BE(port, 2);
    sockaddr.set(ip, 4);
    let state = sys.connect(fd, sockaddr, 16) === 0 ? 0 : errnoOf(sys);
    // EINTR on a non-blocking connect: the handshake goes on in the background, as with EINPROGRESS.
    if (state === EINPROGRESS || state === EINTR) state = connectState(sys, fd);
    if (state !== PENDING) return Promise.resolve(connectReason(host, port, state));
    waiting = true;
    return awaitConnect(sys, fd, host, port, timeoutMs);
  } finally {
    if (!waiting) sys.close(fd);
  }
}

/**
 * The handshake is still under way: not loopback, or a listener whose accept queue is full (the kernel drops the
 * SYN and resends it after 1 s). Poll the socket again between short Bun.sleeps until it connects, fails or the
 * time is up, then close it. The JS thread never blocks.
 *
 * Why not hand the probe to Bun.connect instead: that sends a second SYN to a server that is already not keeping
 * up, and a pending Bun.connect cannot be cancelled, so after our timeout its socket stays in SYN-SENT, retrying,
 * for about two minutes (tcp_syn_retries = 6); under `sv watch` one such socket would pile up per check. Here the
 * fd is ours and is closed at the deadline. The price: an answer is noticed up to one sleep step late (1 ms,
 * growing to 8 ms), which only remote hosts see, where the round trip is of that order anyway.
 */
async function awaitConnect(sys: Libc, fd: number, host: string, port: number, timeoutMs: number): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  let stepMs = 1;
  try {
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return timedOut(host, port, timeoutMs);
      await Bun.sleep(Math.min(stepMs, left));
      stepMs = Math.min(stepMs * 2, 8);
      const state = connectState(sys, fd);
      if (state !== PENDING) return connectReason(host, port, state);
    }
  } finally {
    sys.close(fd);
  }
}
