// How a unit ended, in words: the one writer of every such message, so status, events, the API and
// webhooks say the same thing.
import type { Exit } from "../backends/backend.ts";

export type Ending =
  /** The process ended; `exit` is undefined when its status cannot be known. */
  | { kind: "exit"; exit: Exit | undefined }
  /** Alive but not ready within start_timeout (or a oneshot not completed within it). */
  | { kind: "start-timeout"; timeoutMs: number; last: string | null; oneshot: boolean }
  /** It ignored its stop signal for stop_timeout and was killed. */
  | { kind: "stop-timeout"; timeoutMs: number; signal: string };

const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000} s` : `${n} ms`);

/** `api exited with code 1`, `api was killed by SIGKILL while starting`, `api was not ready within 60 s …`. */
export function endMessage(unit: string, ending: Ending, whileStarting = false): string {
  const during = whileStarting ? " while starting" : "";
  switch (ending.kind) {
    case "exit": {
      const e = ending.exit;
      if (!e || (e.code === null && e.signal === null)) return `${unit} ended${during} (exit status unknown)`;
      return e.signal ? `${unit} was killed by ${e.signal}${during}` : `${unit} exited with code ${e.code}${during}`;
    }
    case "start-timeout":
      if (ending.oneshot) return `${unit} did not complete within ${ms(ending.timeoutMs)} (start_timeout) and was killed`;
      return `${unit} was not ready within ${ms(ending.timeoutMs)} (start_timeout)${ending.last ? `: ${ending.last}` : ""}; raise start_timeout if it needs longer`;
    case "stop-timeout":
      return `${unit} did not stop within ${ms(ending.timeoutMs)} after ${ending.signal} and was killed with SIGKILL`;
  }
}

/** A clean end: exit code 0. */
export function isClean(exit: Exit | undefined): boolean {
  return exit?.code === 0;
}
