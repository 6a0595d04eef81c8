// Everything a load read, recorded so the cache can later tell whether a load would read the same again:
// files (stat taken before the read, plus a hash of the text read), directory listings, glob matches, variables.
import { type BigIntStats, type Stats, closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { type Env, recordingEnv } from "./interpolate.ts";

/** A file as it was read: its stat (identity, size, times: see statId) and a hash of its text. */
export interface FileStamp {
  stat: string;
  ctimeNs: bigint;
  hash: string;
}

export class Inputs {
  /** Wall-clock time the load started, in ns: a file changed after this may share its timestamps with an older version. */
  readonly startedNs = BigInt(Date.now()) * 1_000_000n;
  /** Every file read, by absolute path; null: looked for and absent (sv.yml). */
  readonly files = new Map<string, FileStamp | null>();
  /** Every variable ${...} expansion looked up, with its value; undefined: unset. */
  readonly env = new Map<string, string | undefined>();
  /** The service files found in services/ (null: no such folder). */
  serviceFiles: string[] | null = null;
  /** Every glob in include:, with the files it matched. */
  readonly globs = new Map<string, string[]>();
  /** Why the loaded project cannot be cached (it includes a URL, which has no stat); undefined when it can. */
  uncacheable?: string;

  /** Read a text file, recording its stat (taken first, so a change during the read shows as a newer stat). */
  readText(file: string): string {
    const { text, stats } = readConfigText(file);
    this.files.set(file, { stat: statId(stats), ctimeNs: stats.ctimeNs, hash: hashOf(text) });
    return text;
  }

  /** `env`, recording every variable looked up in it. */
  track(env: Env): Env {
    return recordingEnv(env, this.env);
  }
}

/** What changes in a stat when a file is edited, replaced or moved: device, inode, size, mtime and ctime (ns). */
export function statId(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

export function hashOf(data: string | Uint8Array): string {
  return Bun.hash(data).toString(36);
}

/** The largest config file read (sv.yml, service files, includes, env files): a config is never this big. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** A file that is not read, because it would hang (a FIFO), never end (/dev/zero) or is too big: a config problem. */
export class UnreadableFile extends Error {
  /** What it is instead of a small regular file: "a directory", "a FIFO" …, or null when it is one that is too big. */
  readonly kind: string | null;
  constructor(message: string, kind: string | null = null) {
    super(message);
    this.kind = kind;
  }
}

/**
 * The text of a config file and its stat. Only a regular file of at most MAX_CONFIG_BYTES is read: anything else is
 * refused from a stat (following symlinks) before it is opened, and again from fstat after an O_NONBLOCK open (it may
 * have been swapped in between), so a FIFO never blocks and a device is never read.
 */
export function readConfigText(file: string): { text: string; stats: BigIntStats } {
  refuseUnlessSmallFile(statSync(file, { bigint: true }));
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stats = fstatSync(fd, { bigint: true });
    refuseUnlessSmallFile(stats);
    const buffer = Buffer.alloc(Number(stats.size) + 1); // one byte more: a file grown since shows as too big
    let length = 0;
    for (let n: number; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > MAX_CONFIG_BYTES) throw new UnreadableFile(tooBig(length));
    return { text: buffer.toString("utf8", 0, length), stats };
  } finally {
    closeSync(fd);
  }
}

function refuseUnlessSmallFile(stats: BigIntStats): void {
  if (!stats.isFile()) throw new UnreadableFile(`not a regular file (${kindOfFile(stats)})`, kindOfFile(stats));
  if (stats.size > BigInt(MAX_CONFIG_BYTES)) throw new UnreadableFile(tooBig(Number(stats.size)));
}

export function tooBig(bytes: number): string {
  const mib = (bytes / 1024 / 1024).toFixed(1);
  return `${mib === "1.0" ? `${bytes} bytes` : `${mib} MiB`} is over the 1 MiB limit for a config file`;
}

/** What a file that is not a regular one is, in a message's words. */
export function kindOfFile(stats: BigIntStats | Stats): string {
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  if (stats.isDirectory()) return "a directory";
  return "not a file";
}
