// The fake backend's simulated machine: its units, ports and logs. One per state dir, shared by every fake
// backend made for it, as one machine's processes and files are shared by every sv run on it.
import type { Paths } from "../../paths.ts";
import type { ExecRequest, Exit, StartRequest } from "../backend.ts";
import type { Script } from "./script.ts";

/** gated: created, waiting for release; running: its command runs; ended: it exited, or its gate closed. */
export type Phase = "gated" | "running" | "ended";

export interface FakeUnit {
  id: string;
  unit: string;
  pid: number;
  req: StartRequest;
  script: Script;
  phase: Phase;
  /** How it ended (null while it has not, or when it never ran). */
  exit: Exit | null;
  /** It ended without running its command: aborted, or its owner died before release. */
  unborn: boolean;
  /** The port its stray child holds (null: none, or reaped). */
  heldPort: number | null;
  /** The id of the fake backend that created it, the "sv" holding its gate. */
  owner: number;
  /** Settles once it has ended. */
  ended: Promise<Exit>;
  settle(exit: Exit): void;
}

interface Log {
  current: string[];
  /** Rotated-away line sets, newest first (like `.log.1`, `.log.2` …). */
  rotated: string[][];
}

const FIRST_PID = 10_000;

export class FakeWorld {
  readonly units = new Map<string, FakeUnit>();
  /** How many times each unit name's command started running (kept when a unit is reaped). */
  readonly runCounts = new Map<string, number>();
  /** Every exec, in order, for tests to assert on. */
  readonly execs: ExecRequest[] = [];
  private readonly logs = new Map<string, Log>();
  /** Ports held by something outside any unit (a test's stand-in for another program). */
  private readonly occupied = new Map<number, number>();
  private nextPid = FIRST_PID;
  private nextId = 1;
  private nextOwner = 1;

  newOwner(): number {
    return this.nextOwner++;
  }

  /** A unit in its gate, not running. */
  create(req: StartRequest, script: Script, owner: number): FakeUnit {
    const { promise, resolve } = Promise.withResolvers<Exit>();
    const u: FakeUnit = {
      id: `${req.unit}-${this.nextId++}`,
      unit: req.unit,
      pid: this.nextPid++,
      req,
      script,
      phase: "gated",
      exit: null,
      unborn: false,
      heldPort: null,
      owner,
      ended: promise,
      settle: resolve,
    };
    this.units.set(u.id, u);
    this.log(req.unit);
    return u;
  }

  /** How many times `unit`'s command started running. */
  runs(unit: string): number {
    return this.runCounts.get(unit) ?? 0;
  }

  countRun(unit: string): void {
    this.runCounts.set(unit, this.runs(unit) + 1);
  }

  /** The units of one unit name, oldest first. */
  unitsNamed(unit: string): FakeUnit[] {
    return [...this.units.values()].filter((u) => u.unit === unit);
  }

  /** Who holds `port`: a unit's stray child or an occupant, with a pid; null when it is free. */
  portHolder(port: number): { pid: number; command: string } | null {
    const outside = this.occupied.get(port);
    if (outside !== undefined) return { pid: outside, command: "fake-occupant" };
    for (const u of this.units.values()) if (u.heldPort === port) return { pid: u.pid + 1, command: `hold-port ${port}` };
    return null;
  }

  /** Hold `port` from outside any unit, until the returned function is called. */
  occupyPort(port: number): () => void {
    this.occupied.set(port, this.nextPid++);
    return () => void this.occupied.delete(port);
  }

  /** The log of `unit`, created empty when it has none. */
  log(unit: string): Log {
    let log = this.logs.get(unit);
    if (!log) this.logs.set(unit, (log = { current: [], rotated: [] }));
    return log;
  }

  hasLog(unit: string): boolean {
    return this.logs.has(unit);
  }

  /** The last `n` lines across the rotated logs and the current one. */
  tail(unit: string, n: number): string[] {
    const log = this.logs.get(unit);
    if (!log || n <= 0) return [];
    return [...log.rotated.toReversed().flat(), ...log.current].slice(-n);
  }

  /** Rotate `unit`'s log once it holds `maxBytes` or more, keeping `keep` old ones; the bytes rotated, or 0. */
  rotate(unit: string, maxBytes: number, keep: number): number {
    const log = this.logs.get(unit);
    if (!log) return 0;
    const bytes = log.current.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
    if (bytes === 0 || bytes < maxBytes) return 0;
    const lines = log.current;
    log.current = [];
    if (keep <= 0) return 0;
    log.rotated = [lines, ...log.rotated].slice(0, keep);
    return bytes;
  }
}

const worlds = new Map<string, FakeWorld>();

/** The simulated machine of a project's state dir. */
export function fakeWorld(paths: Paths): FakeWorld {
  let world = worlds.get(paths.stateDir);
  if (!world) worlds.set(paths.stateDir, (world = new FakeWorld()));
  return world;
}

/** Forget a project's simulated machine (its units' timers are unref'd and die with it). */
export function dropFakeWorld(paths: Paths): void {
  worlds.delete(paths.stateDir);
}
