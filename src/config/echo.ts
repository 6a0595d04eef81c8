// How messages quote what the user wrote: a key or value of a megabyte is not repeated whole, nor edit-distanced
// against every known key. Light: the cache's fast path (${...} expansion, sources.ts) imports it.
import { didYouMean } from "../errors.ts";

/** The most of a key or value a message repeats; service names (at most 63 characters) fit whole. */
export const ECHO_CHARS = 80;

/** `text` as a message quotes it: at most ECHO_CHARS characters, cut with "…". */
export function echo(text: string): string {
  return text.length <= ECHO_CHARS ? text : `${text.slice(0, ECHO_CHARS - 1)}…`;
}

/** The known key `key` is a typo of, if any; a key far longer than any known one is none (and edit distance on it costs). */
export function closestKey(key: string, known: string[]): string | undefined {
  const longest = Math.max(0, ...known.map((k) => k.length));
  return key.length > 2 * longest ? undefined : didYouMean(key, known);
}