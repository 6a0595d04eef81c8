// Positioned reads of a log and splitting bytes into lines, shared by tail, follow and rotate.
import { readSync } from "node:fs";

export const NEWLINE = 0x0a;
export const CHUNK_BYTES = 64 * 1024;
export const COPY_BYTES = 1024 * 1024;

/** Up to `length` bytes of `fd` from `position` (fewer at the end of the file). */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The complete lines in `buf`, and the bytes after the last newline. */
export function splitLines(buf: Buffer): { lines: string[]; rest: Buffer } {
  const lines: string[] = [];
  let start = 0;
  for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
    lines.push(buf.toString("utf8", start, nl));
    start = nl + 1;
  }
  return { lines, rest: buf.subarray(start) };
}
