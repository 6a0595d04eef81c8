// Every error a user can cause is an SvError: one line, a hint, an exit code, no stack.

export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3 } as const;
/** One of EXIT, or 128+N after signal N (the shell's convention: Ctrl-C is 130, SIGTERM 143, SIGHUP 129). */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT] | number;

export class SvError extends Error {
  readonly exitCode: ExitCode;
  readonly hint?: string;
  constructor(message: string, opts: { hint?: string; exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "SvError";
    this.exitCode = opts.exitCode ?? EXIT.failed;
    this.hint = opts.hint;
  }
}

/** Bad command line: unknown flag, unknown service name, missing argument. */
export class UsageError extends SvError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: EXIT.usage });
    this.name = "UsageError";
  }
}

/** Bad configuration; carries every problem found, each already formatted `file:line:col: path: message`. */
export class ConfigError extends SvError {
  readonly problems: string[];
  constructor(problems: string[], hint?: string) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} problems in the configuration`, {
      hint,
      exitCode: EXIT.usage,
    });
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** The store lock is held by someone else and we may not (or no longer) wait. */
export class LockedError extends SvError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: EXIT.locked });
    this.name = "LockedError";
  }
}

/** A waiting command was interrupted by a signal: what it started or stopped stays recorded. */
export class Interrupted extends SvError {
  constructor(signal: NodeJS.Signals, message: string, hint?: string) {
    super(message, { hint, exitCode: 128 + ((require("node:os") as typeof import("node:os")).constants.signals[signal] ?? 0) });
    this.name = "Interrupted";
  }
}

/** A batch command finished but some services failed; the per-service lines are already printed. */
export class BatchFailure extends SvError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.failed });
    this.name = "BatchFailure";
  }
}

/** Edit distance counting a swap of two neighbours as one edit ("wbe" -> "web"), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `word`, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // Short words allow fewer edits, and never a rewrite of the whole word: "zz" is not a typo of "a".
  const allowed = Math.min(word.length - 1, word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3)));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}
