// What an import could not map, each entry at the line of the source it came from.

/** One key (or value) of the source that sv does not take as written, and why. */
export interface Unmapped {
  /** The source file as the user named it (relative to the working directory). */
  file: string;
  line: number;
  /** Where in the source: `services.api.build`, `program:web.startsecs`, `web`. */
  key: string;
  why: string;
  /** The sv service it belongs to, when it belongs to one. */
  service?: string;
}

/** `file:line: key: why`, the form every unmapped entry is printed in. */
export function formatUnmapped(u: Unmapped): string {
  return `${u.file}:${u.line}: ${u.key}: ${u.why}`;
}
