// The fake backend: units simulated in memory, for the engine's tests and as the reference for the backend contract.
//
// A unit's behaviour is its service's `command` (a list argv, or a string split on spaces), read word by word:
//
//   log TEXT               write the line TEXT (stdout): to the unit's log; exec with output "capture" drops it
//   stderr TEXT            write the line TEXT to stderr: to the log; exec with output "capture" returns it
//   sleep DUR              wait DUR (250ms, 2s, 1m) before the next word
//   exit N [after DUR]     end with exit code N (after DUR)
//   signal SIG [after DUR] end killed by signal SIG (after DUR)
//   run                    keep running until stopped or killed
//   ignore-stop            the stop signal does not end it: only the kill after the stop timeout does
//   stop-takes DUR         it takes DUR to end after the stop signal (longer than the timeout: it is killed)
//   stop-exit N            on the stop signal it exits with code N, instead of dying of the signal
//   hold-port P            a stray child of it listens on port P, outliving the main process until stop, kill or reap
//
// Without an end word (exit, signal, run) a service runs until stopped, and an exec'd command exits 0. Any
// other first word (`fail-start`, `no-such-command`) is a program that does not exist: start rejects with
// "cannot start WORD: command not found", exec returns error "command not found". So ["run"] is a
// long-running service, ["exit", "3", "after", "50ms"] one that crashes, ["ignore-stop"] one that must be
// killed, ["hold-port", "8080", "exit", "0"] one that leaves a stray child behind.
//
// Time is real (short timers, unref'd). Units live in a FakeWorld shared by every fake backend of one state
// dir, so a second backend made from the same paths is "another sv" on the same machine: it sees the units,
// and knows how they ended. `simulateOwnerDeath()` is the sv that called start() dying: the gates of the
// starts it has not released close, and those units end unborn without ever running.
import { SvError } from "../../errors.ts";
import type { Paths } from "../../paths.ts";
import { describePortHolder } from "../../runtime/ports.ts";
import type { Backend, ExecRequest, ExecResult, Exit, Handle, Inspection, StartRequest, Started, StopOptions, StopOutcome } from "../backend.ts";
import { EXEC_END, NotFound, parseScript, SERVICE_END, type Script } from "./script.ts";
import { fakeWorld, type FakeUnit, type FakeWorld } from "./world.ts";

export { fakeWorld, dropFakeWorld, FakeWorld, type FakeUnit } from "./world.ts";

/** A fake unit: its id in the world, and the pid status shows. */
export interface FakeHandle extends Handle {
  kind: "fake";
  id: string;
  pid: number;
}

export interface FakeBackend extends Backend {
  readonly world: FakeWorld;
  /** This sv dies: every start it has not released never runs (its gate closes, the unit ends unborn). */
  simulateOwnerDeath(): void;
  /** The unit's command ends now, as if it crashed with `exit`. */
  crash(handle: Handle, exit: Exit): void;
}

const NEVER_RAN: Exit = { code: null, signal: null };
const KILLED: Exit = { code: null, signal: "SIGKILL" };

export function isFakeHandle(h: Handle): h is FakeHandle {
  return h.kind === "fake" && typeof h.id === "string";
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function createFakeBackend(paths: Paths): FakeBackend {
  const world = fakeWorld(paths);
  const owner = world.newOwner();
  let dead = false;

  const find = (h: Handle): FakeUnit | undefined => {
    if (!isFakeHandle(h)) throw new Error(`bug: the fake backend was given a ${h.kind} handle`);
    return world.units.get(h.id);
  };

  function end(u: FakeUnit, exit: Exit): void {
    if (u.phase === "ended") return;
    u.phase = "ended";
    u.exit = exit;
    u.settle(exit);
  }

  /** The gate closes before release: it never runs. */
  function closeGate(u: FakeUnit): void {
    if (u.phase !== "gated") return;
    u.unborn = true;
    end(u, NEVER_RAN);
  }

  /** Released: run the steps in order; a stop or kill meanwhile ends it (checked after every wait). */
  async function run(u: FakeUnit): Promise<void> {
    u.phase = "running";
    world.countRun(u.unit);
    if (u.script.holdPort !== null) u.heldPort = u.script.holdPort;
    const log = world.log(u.unit);
    for (const step of u.script.steps) {
      if ("sleepMs" in step) await sleep(step.sleepMs);
      else log.current.push("log" in step ? step.log : step.stderr);
      if (u.phase !== "running") return;
    }
    const finish = u.script.end ?? SERVICE_END;
    if ("code" in finish) end(u, { code: finish.code, signal: null });
    else if ("signal" in finish) end(u, { code: null, signal: finish.signal });
  }

  /** Alive: gated or running; a stray child holding a port also counts as something of it left to stop. */
  const isLive = (u: FakeUnit) => u.phase !== "ended" || u.heldPort !== null;

  function killNow(u: FakeUnit): void {
    closeGate(u);
    end(u, KILLED);
    u.heldPort = null;
  }

  return {
    kind: "fake",
    world,
    runs: () => true,

    async start(req: StartRequest): Promise<Started> {
      let script: Script;
      try {
        script = parseScript(req.svc.command);
      } catch (e) {
        if (e instanceof NotFound) throw new SvError(`cannot start ${e.word}: command not found`, { hint: "check command: in the definition" });
        throw e;
      }
      if (req.port !== undefined) {
        const holder = world.portHolder(req.port);
        if (holder) {
          throw new SvError(`${req.unit}: ${describePortHolder(req.port, { ...holder, inode: 0 })}`, { hint: "stop that process, or give the service another port:" });
        }
      }
      const u = world.create(req, script, owner);
      const handle: FakeHandle = { kind: "fake", id: u.id, pid: u.pid };
      return {
        handle,
        async release() {
          if (dead || u.phase !== "gated") return;
          void run(u);
        },
        async abort() {
          closeGate(u);
        },
        exited: u.ended,
      };
    },

    async inspect(_unit: string, h: Handle): Promise<Inspection> {
      const u = find(h);
      if (!u) return { alive: false, pid: typeof h.pid === "number" ? h.pid : null };
      if (u.phase !== "ended") return { alive: true, pid: u.pid };
      if (u.unborn) return { alive: false, unborn: true, pid: null };
      return { alive: false, exit: u.exit ?? undefined, pid: u.pid };
    },

    async stop(_unit: string, h: Handle, opts: StopOptions): Promise<StopOutcome> {
      const t0 = performance.now();
      const u = find(h);
      if (!u || !isLive(u)) return { forced: false, wasRunning: false, durationMs: 0 };
      closeGate(u);
      if (u.phase === "running" && !u.script.ignoreStop) {
        const exit = u.script.stopExit !== null ? { code: u.script.stopExit, signal: null } : { code: null, signal: opts.signal };
        if (u.script.stopTakesMs === 0) end(u, exit);
        else sleep(u.script.stopTakesMs).then(() => end(u, exit));
      }
      const timedOut = Symbol();
      const forced = u.phase !== "ended" && (await Promise.race([u.ended, sleep(opts.timeoutMs).then(() => timedOut)])) === timedOut;
      if (forced) end(u, KILLED);
      u.heldPort = null;
      return { forced, wasRunning: true, durationMs: performance.now() - t0 };
    },

    async kill(_unit: string, h: Handle): Promise<void> {
      const u = find(h);
      if (u) killNow(u);
    },

    async reap(_unit: string, h: Handle): Promise<void> {
      const u = find(h);
      if (!u) return;
      killNow(u);
      world.units.delete(u.id);
    },

    exec: (req) => execFake(world, req),
    address: () => ({ host: "127.0.0.1" }),

    logs: {
      tail: async (unit, lines) => world.tail(unit, lines),
      exists: async (unit) => world.hasLog(unit),
      file: () => null,
      rotate: (unit, maxBytes, keep) => world.rotate(unit, maxBytes, keep),
    },

    simulateOwnerDeath() {
      dead = true;
      for (const u of world.units.values()) if (u.owner === owner) closeGate(u);
    },

    crash(h: Handle, exit: Exit) {
      const u = find(h);
      if (u?.phase === "running") end(u, exit);
    },
  };
}

/** Run an exec'd command's script to its end, or until its timeout (then it is "killed" with SIGKILL). */
async function execFake(world: FakeWorld, req: ExecRequest): Promise<ExecResult> {
  world.execs.push(req);
  let script: Script;
  try {
    script = parseScript(req.argv);
  } catch (e) {
    if (e instanceof NotFound) return { code: null, signal: null, timedOut: false, stderr: "", error: "command not found" };
    throw e;
  }
  const deadline = performance.now() + req.timeoutMs;
  const timedOut = (stderr: string): ExecResult => ({ code: null, signal: "SIGKILL", timedOut: true, stderr });
  let stderr = "";
  for (const step of script.steps) {
    if ("sleepMs" in step) {
      const left = deadline - performance.now();
      await sleep(Math.min(step.sleepMs, Math.max(0, left)));
      if (step.sleepMs > left) return timedOut(stderr);
    } else if (req.output === "log") world.log(req.unit).current.push("log" in step ? step.log : step.stderr);
    else if ("stderr" in step) stderr += `${step.stderr}\n`;
  }
  const finish = script.end ?? EXEC_END;
  if ("forever" in finish) {
    await sleep(Math.max(0, deadline - performance.now()));
    return timedOut(stderr);
  }
  if ("signal" in finish) return { code: null, signal: finish.signal, timedOut: false, stderr };
  return { code: finish.code, signal: null, timedOut: false, stderr };
}
