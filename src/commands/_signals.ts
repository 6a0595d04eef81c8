// Signals that end a long-running command (watch, logs -f, events -f): the command stops cleanly, then
// exits as the shell expects of a program a signal ended — 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP.
import { Interrupted } from "../errors.ts";

const STOPPING = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export interface StopSignals {
  /** Remove the handlers; then throw the exit of the signal that came (a silent Interrupted), if one did. */
  finish(): void;
}

/** Call `stop` on the first SIGINT, SIGTERM or SIGHUP. */
export function onStopSignals(stop: () => void): StopSignals {
  let received: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    received ??= sig;
    stop();
  };
  for (const sig of STOPPING) process.on(sig, handler);
  return {
    finish() {
      for (const sig of STOPPING) process.off(sig, handler);
      if (received) throw new Interrupted(received, "");
    },
  };
}
