// What the benchmark needs of a service manager: write a config for N services, and the commands to drive them.
import type { Ran } from "../proc.ts";

/** One service of the benchmark project: a name, its port, and the argv of the tiny TCP server. */
export interface ServiceSpec {
  name: string;
  port: number;
  argv: string[];
}

/** The long-running process that restarts crashed services: sv watch, supervisord, PM2's God daemon, runsvdir. */
export interface Supervisor {
  pid: number;
  /** One line for the report, e.g. "sv watch (pid 123)". */
  what: string;
  /** Every process whose CPU and memory count as the supervisor's (runit: runsvdir and its runsv's); default [pid]. */
  pids?(): number[];
}

/** Per-phase changes to a tool's default config (only tools that support them are asked). */
export interface OpenOptions {
  /** sv: restart_delay in every service file (default: sv's own default, 100ms). */
  restartDelay?: string;
  /** sv: write `port:` (an implied tcp health check) in every service file (default true). */
  declarePort?: boolean;
}

/** A tool set up for one phase in its own directory (config written, daemon running if it has one). */
export interface Session {
  /** cwd for every command of this session. */
  dir: string;
  env: Record<string, string | undefined>;
  /** Start every service. */
  up: string[];
  /** Stop every service. */
  down: string[];
  /** Show every service's state. */
  status: string[];
  /** Back to "defined, nothing running" after a run; default: `down`. */
  reset?: string[];
  /** Untimed pause after a stop before the next timed start (runit: runsv's crash-loop sleep); default 0. */
  restartPauseMs?: number;
  /** Null when a status run shows every service running, else what is wrong. */
  checkStatus(r: Ran): string | null;
  /** After a failure: what the tool says about its services, in one line. */
  diagnose(): Promise<string>;
  /** Start (sv watch) or name (the daemon) the process that restarts crashed services; idempotent. */
  supervise(): Promise<Supervisor>;
  /** Stop what supervise() started (sv watch; the peers' daemons stay until close). */
  unsupervise?(): Promise<void>;
  /** To crash a service, SIGKILL its whole process group (sv: each service leads its own) or just its pid. */
  crashGroup: boolean;
  /** Stop the services, the supervisor (sv watch) and the daemon through the tool's CLI, then by recorded PID. */
  close(): Promise<void>;
}

export interface Tool {
  name: string;
  /** Fetch or unpack what the tool needs before unavailable() is asked (runit: the Debian package); notes for the report. */
  prepare?(): Promise<string[]>;
  /** Why the tool cannot run here (the run skips it with this note), or null. */
  unavailable(): string | null;
  /** One line naming the version, for the report. */
  version(): Promise<string>;
  /** Write the config for `services` into `dir` and start a daemon if the tool needs one (not timed). */
  open(dir: string, services: ServiceSpec[], timeoutMs: number, options?: OpenOptions): Promise<Session>;
}

/** Parse the first JSON value in `text` starting at `open` ("[" or "{"), ignoring lines printed before it. */
export function parseJsonAfter(text: string, open: "[" | "{"): unknown {
  const at = text.indexOf(open);
  if (at === -1) throw new Error(`no JSON ${open === "[" ? "array" : "object"} in the output`);
  return JSON.parse(text.slice(at));
}

/** "3 running, 2 errored" from a list of states. */
export function countStates(states: string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(", ") || "no services";
}
