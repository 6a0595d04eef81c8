// The seam between the engine and wherever a unit runs: local processes, containers, ssh hosts, fakes.
// The engine asks a backend; it never touches a pid, a container id, a socket or a log path itself.
import type { Service } from "../config/schema.ts";
import { SvError } from "../errors.ts";
import type { Handle, UnitSpec } from "../store/unit.ts";

export type { Handle } from "../store/unit.ts";

/** How a unit's main process ended. `code` and `signal` are null when unknown. */
export interface Exit {
  code: number | null;
  signal: string | null;
}

/** What a backend sees when it looks at a unit. */
export interface Inspection {
  alive: boolean;
  /** How it ended (when not alive), if the backend knows; undefined when it truly cannot be known. */
  exit?: Exit;
  /** It never ran the service's command: its start was abandoned before `release` (the gate closed). */
  unborn?: boolean;
  /** The process id users see (the service's main process), when there is one. */
  pid: number | null;
}

/** Everything needed to create one unit of a service. */
export interface StartRequest {
  unit: string;
  svc: Service;
  instance: number;
  /** The variables sv adds (addresses, PORT, SV_SERVICE, SV_INSTANCE), on top of the service's env. */
  env: Record<string, string>;
  /** The environment the service inherits, under its own env (sv's, less the API's secrets). */
  inherited: Record<string, string | undefined>;
  /** The port the unit will serve, checked free before creating it. */
  port?: number;
  /** What the store records of it (its definition hash …): a backend that labels what it creates may keep it there. */
  spec: UnitSpec;
}

/**
 * A created unit that does not run the service's command yet. The engine records `handle` in the store,
 * then calls `release`; if the recording fails (or sv dies first), the unit never runs: `abort`, or the
 * gate closing by itself when sv is gone, undoes it.
 */
export interface Started {
  handle: Handle;
  release(): Promise<void>;
  abort(): Promise<void>;
  /** Settles when the unit ends while this sv lives (it is the parent): exact, and sooner than inspect. */
  exited?: Promise<Exit>;
}

export interface StopOptions {
  signal: string;
  timeoutMs: number;
}

export interface StopOutcome {
  /** It had to be killed after `timeoutMs`. */
  forced: boolean;
  /** Nothing of ours was running. */
  wasRunning: boolean;
  durationMs: number;
}

/** A command run where the service runs: hooks, command probes, on_failure commands. */
export interface ExecRequest {
  unit: string;
  svc: Service;
  argv: string[];
  /** The whole environment: the inherited one, the service's env, then what sv adds (`added`). */
  env: Record<string, string | undefined>;
  /**
   * What sv adds, included in `env` (addresses, PORT, SV_SERVICE, SV_INSTANCE, SV_HOOK, SV_EVENT): a backend
   * whose commands run where sv's environment is not (a container, a remote host) sends only these and the
   * service's env.
   */
  added: Record<string, string>;
  timeoutMs: number;
  /** "log": output appended to the unit's log; "capture": stdout discarded, stderr returned. */
  output: "log" | "capture";
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** With output "capture": what it wrote to stderr. */
  stderr: string;
  /** It could not be run at all (not found, no permission …). */
  error?: string;
}

/** Where a unit is reached: by sv's probes (no `from`), or by a dependent service `from`. */
export interface Address {
  host: string;
  /** The port there, when it is not the service's `port` (a container's own port, seen from its network). */
  port?: number;
}

/** A unit's log, where the backend keeps one. */
export interface LogAccess {
  /** The last `lines` lines. */
  tail(unit: string, lines: number): Promise<string[]>;
  /** Does the unit have a log at all? */
  exists(unit: string): Promise<boolean>;
  /** The file a follower may read (local logs); null where logs are not files (then `follow`). */
  file(unit: string): string | null;
  /** Logs that are not files (an engine's): the last `lines` lines, then new ones as written, until closed. */
  follow?(unit: string, lines: number, onLine: (line: string) => void): { close(): void };
  /** Rotate if it outgrew `maxBytes`, keeping `keep` old ones; the size rotated, or 0 (a remote log: later). */
  rotate(unit: string, maxBytes: number, keep: number): number | Promise<number>;
}

/** A unit a backend found running for this project that the store may not know (its state dir was deleted). */
export interface Found {
  unit: string;
  handle: Handle;
  spec: UnitSpec | null;
  alive: boolean;
}

export interface Backend {
  /** The `kind` of the handles it creates, and its name in specs. */
  readonly kind: string;
  /** Does this backend run `svc`? (Chosen by its keys: image → containers, host → ssh, else local.) */
  runs(svc: Service): boolean;
  /** Create the unit, gated: it must not run the service's command before `release`. */
  start(req: StartRequest): Promise<Started>;
  /** Is it alive, and how did it end? `unit` names the unit the handle belongs to. */
  inspect(unit: string, handle: Handle): Promise<Inspection>;
  /** The stop signal, up to `timeoutMs`, then a kill; resolves once nothing of it is left (nothing to reap). */
  stop(unit: string, handle: Handle, opts: StopOptions): Promise<StopOutcome>;
  /** Kill it now and wait until it is gone. */
  kill(unit: string, handle: Handle): Promise<void>;
  /** Remove what a unit that ended left behind (stray children holding its port, exit records). */
  reap(unit: string, handle: Handle): Promise<void>;
  exec(req: ExecRequest): Promise<ExecResult>;
  /** Where unit `instance` of `svc` is reached from sv (no `from`), or from the dependent `from`. */
  address(svc: Service, instance: number, from?: Service): Address;
  logs: LogAccess;
  /** For `sv watch`: notice ends at once (pidfds), where the backend can; else watch polls inspect. */
  exitWatcher?(onEnd: () => void): ExitWatcher;
  /** The project's units this backend finds by itself (containers by label), known to the store or not. */
  discover?(): Promise<Found[]>;
  /**
   * A start of this unit failed (it ended, or was not ready in time): undo what the start changed beyond the unit (a
   * package's switch to a new release). Returns what was done, for the reason shown, or null.
   */
  startFailed?(unit: string, handle: Handle): Promise<string | null>;
  /** `sv rollback`: a package service's previous release becomes current (the caller restarts it). */
  rollback?(svc: Service): Promise<{ from: string | null; to: string }>;
  /** After `sv down` of the whole project: remove what the project shares (its network; named volumes with `volumes`). */
  teardown?(opts: { volumes: boolean }): Promise<string[]>;
}

/**
 * Where a unit runs cannot be reached (a host that does not answer): nothing is known of it, so nothing about it
 * changes. Its units show as `unknown`, are not restarted and do not count as crashes.
 */
export class Unreachable extends SvError {
  /** What cannot be reached ("host web1"), and since when (ISO), across invocations. */
  readonly where: string;
  readonly since: string;
  constructor(message: string, where: string, since: string, hint?: string) {
    super(message, { hint });
    this.name = "Unreachable";
    this.where = where;
    this.since = since;
  }
}

/** Tracks a set of units and says which have ended since; calls its `onEnd` soon after one does, so watch can sleep until then. */
export interface ExitWatcher {
  /** Watch exactly these units (unit -> handle). */
  sync(targets: Map<string, Handle>): void;
  /** Units that have ended. */
  ended(): string[];
  close(): void;
}
