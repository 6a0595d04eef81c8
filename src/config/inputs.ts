// Everything a load read, recorded so the cache can later tell whether a load would read the same again:
// files (stat taken before the read, plus a hash of the text read), directory listings, glob matches, variables.
import { readFileSync, statSync, type BigIntStats } from "node:fs";
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
    const stats = statSync(file, { bigint: true });
    const text = readFileSync(file, "utf8");
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
