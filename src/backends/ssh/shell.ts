// Quoting for the POSIX shell on the other end of an ssh connection: every path, value and script passes through shq.
import { SvError } from "../../errors.ts";

/** `s` as one single-quoted sh word: `it's` -> `'it'\''s'`. Safe in dash, busybox sh and bash; a NUL cannot be passed at all. */
export function shq(s: string): string {
  if (s.includes("\0")) throw new SvError(`cannot pass a NUL byte to a remote shell (in "${s.slice(0, 40).replaceAll("\0", "\\0")}")`, { hint: "remove the NUL byte from the value" });
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
