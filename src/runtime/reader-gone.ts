// Has the reader of our stdout gone (`sv events -f | head -1`)? poll(2) on fd 1: zero bytes written, nothing lost.
import { ptr } from "bun:ffi";
import { libcLoader } from "./libc.ts";

const POLLERR = 0x008;
const POLLHUP = 0x010;
const POLLNVAL = 0x020;

const libc = libcLoader({ poll: { args: ["ptr", "u64", "i32"], returns: "i32" } });

/**
 * True once `fd`'s far end is closed: a pipe whose reader exited reports POLLERR, a socket or tty that
 * hung up POLLHUP. With `events = 0` poll only reports those, so a live pipe, a file or /dev/null is
 * never "gone". False where libc cannot be loaded (then only EPIPE on a write tells).
 */
export function isReaderGone(fd = 1): boolean {
  const poll = libc()?.poll;
  if (!poll) return false;
  const pfd = new Int32Array(2); // struct pollfd { int fd; short events; short revents; }
  pfd[0] = fd;
  if (poll(ptr(pfd), 1, 0) <= 0) return false;
  const revents = new Int16Array(pfd.buffer)[3]!;
  return (revents & (POLLERR | POLLHUP | POLLNVAL)) !== 0;
}

/** Call `onGone` once the reader of `fd` has gone, checking every `everyMs`; returns a function that stops watching. */
export function watchReader(onGone: () => void, opts: { fd?: number; everyMs?: number } = {}): () => void {
  const timer = setInterval(() => {
    if (!isReaderGone(opts.fd ?? 1)) return;
    clearInterval(timer);
    onGone();
  }, opts.everyMs ?? 200);
  timer.unref?.();
  return () => clearInterval(timer);
}
