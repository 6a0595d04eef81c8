// The last lines of a log, read backwards from the end across its rotated files.
import { closeSync, fstatSync } from "node:fs";
import { openPrivate } from "../private-files.ts";
import { CHUNK_BYTES, NEWLINE, readAt, splitLines } from "./bytes.ts";
import { logSequence } from "./files.ts";

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
      fd = openPrivate(files[i]!, "read");
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
