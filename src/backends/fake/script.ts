// The fake backend's command vocabulary (documented in ./index.ts), parsed into a script.

/** Something the command does, in order, once it runs. */
export type Step = { log: string } | { stderr: string } | { sleepMs: number };

/** How the command ends after its steps: an exit code, a signal, or never (it runs until stopped). */
export type End = { code: number } | { signal: string } | { forever: true };

/** Without an end word, a service runs until stopped and an exec'd command exits 0. */
export const SERVICE_END: End = { forever: true };
export const EXEC_END: End = { code: 0 };

export interface Script {
  steps: Step[];
  /** null: no end word was given (see SERVICE_END, EXEC_END). */
  end: End | null;
  /** The stop signal does not end it (only the kill after the stop timeout does). */
  ignoreStop: boolean;
  /** How long it takes to end after the stop signal. */
  stopTakesMs: number;
  /** The exit code it ends with on the stop signal; null: it dies of the signal. */
  stopExit: number | null;
  /** The port a stray child of it listens on, outliving the main process until stop, kill or reap. */
  holdPort: number | null;
}

/** The first word is not in the vocabulary: like a program that is not on PATH. */
export class NotFound extends Error {
  constructor(readonly word: string) {
    super(`${word}: command not found`);
  }
}

const DURATION = /^(\d+)(ms|s|m)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;
const WORDS = new Set(["run", "log", "stderr", "sleep", "exit", "signal", "ignore-stop", "stop-takes", "stop-exit", "hold-port"]);

/** `250ms`, `2s`, `1m` in ms; a bare number is refused (it would be ambiguous). */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`fake backend: "${text}" is not a duration (250ms, 2s, 1m)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

function parseInteger(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new Error(`fake backend: ${what} needs a number, got "${text ?? ""}"`);
  return Number(text);
}

function parseSignal(text: string | undefined): string {
  if (text === undefined || !/^SIG[A-Z0-9]+$/.test(text)) throw new Error(`fake backend: signal needs a name like SIGTERM, got "${text ?? ""}"`);
  return text;
}

/** Read a command word by word; a first word outside the vocabulary is NotFound, a malformed one a bug in the test. */
export function parseScript(command: string | string[]): Script {
  const words = typeof command === "string" ? command.trim().split(/\s+/).filter(Boolean) : [...command];
  if (words.length === 0 || !WORDS.has(words[0]!)) throw new NotFound(words[0] ?? "");
  const script: Script = { steps: [], end: null, ignoreStop: false, stopTakesMs: 0, stopExit: null, holdPort: null };
  const next = (what: string) => {
    const w = words.shift();
    if (w === undefined) throw new Error(`fake backend: ${what} needs an argument`);
    return w;
  };
  // `exit N after DUR`: the delay is a sleep before the end.
  const after = () => {
    if (words[0] !== "after") return;
    words.shift();
    script.steps.push({ sleepMs: parseDuration(next("after")) });
  };
  read: while (words.length > 0) {
    const word = words.shift()!;
    switch (word) {
      case "run":
        script.end = { forever: true };
        break read;
      case "log":
        script.steps.push({ log: next("log") });
        break;
      case "stderr":
        script.steps.push({ stderr: next("stderr") });
        break;
      case "sleep":
        script.steps.push({ sleepMs: parseDuration(next("sleep")) });
        break;
      case "exit": {
        const code = parseInteger(words.shift(), "exit");
        after();
        script.end = { code };
        break read;
      }
      case "signal": {
        const signal = parseSignal(words.shift());
        after();
        script.end = { signal };
        break read;
      }
      case "ignore-stop":
        script.ignoreStop = true;
        break;
      case "stop-takes":
        script.stopTakesMs = parseDuration(next("stop-takes"));
        break;
      case "stop-exit":
        script.stopExit = parseInteger(words.shift(), "stop-exit");
        break;
      case "hold-port":
        script.holdPort = parseInteger(words.shift(), "hold-port");
        break;
      default:
        throw new Error(`fake backend: unknown word "${word}" in ${JSON.stringify(command)}`);
    }
  }
  if (words.length > 0) throw new Error(`fake backend: "${words.join(" ")}" after the end of ${JSON.stringify(command)}`);
  return script;
}
