// Starting a service process: detached in its own session, behind a start gate and an exit relay,
// output appended to its log, user and limits applied.
import { accessSync, closeSync, constants as fs, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { constants } from "node:os";
import { dirname } from "node:path";
import { accountEntry } from "./accounts.ts";
import { ensurePrivateDir, openPrivate } from "./private-files.ts";
import { SvError } from "../errors.ts";
import { childrenOf, readStat } from "./identity.ts";

/**
 * Signals the relay catches (a no-op trap) so that a group-wide stop signal reaches the service while the
 * relay lives on to record how it ended: the catchable ones whose default is to terminate, except those
 * the kernel raises for a fault of the relay's own (SEGV, BUS, FPE, ILL, TRAP, SYS). Traps with a handler,
 * unlike ignores, are reset to the default in the service, which so inherits no ignored signal.
 */
const RELAY_TRAPPED = "HUP INT QUIT ABRT USR1 USR2 ALRM TERM XCPU XFSZ VTALRM PROF IO PWR";
/** The same signals as a bit mask of /proc/PID/status (bit N-1 for signal N). */
const TRAPPED_MASK = RELAY_TRAPPED.split(" ").reduce((m, name) => m | (1n << BigInt(constants.signals[`SIG${name}` as NodeJS.Signals] - 1)), 0n);
/** How long spawnGated waits for the relay to set its traps; it takes about a millisecond. */
const ARM_TIMEOUT_MS = 100;

/**
 * The relay: a /bin/sh that leads the unit's session and process group. It blocks on its stdin (the
 * gate) until sv writes a line, which sv does only after the store has recorded it; if sv dies first
 * the pipe closes, the read fails, and it exits "unborn" without running anything. A stop signal while
 * it waits ends it unborn too (the trap is set before the read: dash's read returns on a caught signal).
 * Then it runs the service as its child and writes the child's exit status to `$0.PID.exit`, so any
 * later sv knows how the service ended; its traps keep it alive through a group-wide stop signal until
 * the service has exited.
 *
 * The status is the shell's: 128+N for a death by signal N, which an `exit 130` of the service's own
 * cannot be told from (POSIX sh keeps no other trace of how its child ended), so statuses 129-192 read
 * as signals. Before its first trap is set, a signal would kill it with no record at all: spawnGated
 * returns only once the traps are in place.
 */
const RELAY = [
  'f="$0.$$.exit"',
  // A record left by an earlier relay that had this pid must not speak for this one.
  ': >"$f"',
  `trap 'echo unborn >"$f"; exit 0' ${RELAY_TRAPPED}`,
  'IFS= read -r go || { echo unborn >"$f"; exit 0; }',
  `trap : ${RELAY_TRAPPED}`,
  "exec 0</dev/null",
  '"$@"',
  "s=$?",
  'echo "$s" >"$f"',
  'exit "$s"',
].join("\n");

export interface RunAs {
  user?: string;
  group?: string;
}

/** The login env of `user` (HOME, USER, LOGNAME), and a check that user and group exist. */
export function userEnv(name: string, runAs: RunAs): Record<string, string> {
  if (runAs.user === undefined && runAs.group === undefined) return {};
  if (process.getuid?.() !== 0) throw new SvError(`${name}: user/group need sv to run as root`, { hint: "run sv as root, or remove user:/group: from the definition" });
  if (runAs.group !== undefined && !accountEntry("/etc/group", runAs.group)) {
    throw new SvError(`${name}: group "${runAs.group}" does not exist`, { hint: "check group: in the definition" });
  }
  if (runAs.user === undefined) return {};
  const pw = accountEntry("/etc/passwd", runAs.user);
  if (!pw) throw new SvError(`${name}: user "${runAs.user}" does not exist`, { hint: "check user: in the definition" });
  return { USER: pw[0]!, LOGNAME: pw[0]!, HOME: pw[5]! };
}

/**
 * Drop to user/group with setpriv, inside the relay (which stays sv's user, to write the exit file):
 * with the user's supplementary groups, which a bare setuid would clear.
 */
export function asUser(runAs: RunAs, argv: string[]): string[] {
  if (runAs.user === undefined && runAs.group === undefined) return argv;
  const flags: string[] = [];
  if (runAs.user !== undefined) flags.push(`--reuid=${runAs.user}`);
  if (runAs.group !== undefined) flags.push(`--regid=${runAs.group}`);
  else if (runAs.user !== undefined) flags.push(`--regid=${gidOf(runAs.user)}`);
  flags.push(runAs.user !== undefined && runAs.group === undefined ? "--init-groups" : "--clear-groups");
  return ["setpriv", ...flags, "--", ...argv];
}

function gidOf(user: string): string {
  return accountEntry("/etc/passwd", user)?.[3] ?? user;
}

export interface Limits {
  memoryBytes?: number;
  nofile?: number;
  nproc?: number;
}

/** Wrap argv with prlimit so limits apply from the first instruction (setting them after spawn races). */
export function withLimits(limits: Limits, argv: string[]): string[] {
  const flags: string[] = [];
  if (limits.nofile !== undefined) flags.push(`--nofile=${limits.nofile}:${limits.nofile}`);
  if (limits.nproc !== undefined) flags.push(`--nproc=${limits.nproc}:${limits.nproc}`);
  if (limits.memoryBytes !== undefined) flags.push(`--as=${limits.memoryBytes}:${limits.memoryBytes}`);
  return flags.length ? ["prlimit", ...flags, "--", ...argv] : argv;
}

export interface SpawnOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  logPath: string;
  /** The relay writes the exit status (or "unborn") to `${exitPrefix}.${its pid}.exit`. */
  exitPrefix: string;
}

export interface Gated {
  /** The relay: session and group leader. */
  pid: number;
  startTicks: number;
  /**
   * Let the service run. Resolves once the relay has forked it (so its own pid is in /proc for the first
   * inspect) or has ended, within FORK_WAIT_MS.
   */
  release(): Promise<void>;
  /**
   * Close the gate: the relay exits without running the service. True when the gate was still shut (the
   * service never ran), false when it had been released already.
   */
  abort(): boolean;
  /** Settles when the relay exits, while this sv is alive to see it. */
  exited: Promise<void>;
}

/**
 * How long release waits for the relay to fork the service. It takes well under a millisecond; the bound
 * is for a machine so loaded that the relay is not scheduled: the pid is then learnt by a later inspect.
 */
const FORK_WAIT_MS = 1000;

/**
 * Until the relay `pid` has a child (the service) or has ended. A start reports the service's own pid,
 * not the relay's: without the wait, a probe that passes at once (a command check of a file) reported
 * the relay's pid while every later look named the service's.
 */
async function untilForked(pid: number, ended: Promise<void>): Promise<void> {
  let gone = false;
  void ended.then(() => (gone = true));
  const deadline = performance.now() + FORK_WAIT_MS;
  while (!gone && childrenOf(pid).length === 0 && performance.now() < deadline) await Bun.sleep(1);
}

/**
 * Why posix_spawn would refuse `program` (a path, or a name looked up on PATH), in words; null when it
 * would run it. The relay's shell would only leave a 126 or 127 in the log (and run a file without #! as
 * a shell script), so say it now, as a direct spawn would have.
 */
export function whyNotRunnable(program: string, cwd: string, path: string | undefined): string | null {
  const file = program.includes("/") ? (program.startsWith("/") ? program : `${cwd}/${program}`) : Bun.which(program, { PATH: path ?? "", cwd });
  if (file === null || !existsSync(file)) return "command not found";
  try {
    if (statSync(file).isDirectory()) return "permission denied";
    accessSync(file, fs.X_OK);
  } catch {
    return "permission denied";
  }
  let head: Buffer;
  try {
    const fd = openSync(file, "r");
    try {
      head = Buffer.alloc(4);
      head = head.subarray(0, readSync(fd, head, 0, 4, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null; // executable but not readable by us: the kernel may still run it
  }
  if (head.subarray(0, 2).toString("latin1") === "#!" || head.toString("latin1") === "\x7fELF") return null;
  // Formats registered with binfmt_misc (jars, foreign binaries …) run too: trust the kernel then.
  return hasBinfmtHandlers() ? null : "not an executable program (missing #! line?)";
}

function hasBinfmtHandlers(): boolean {
  try {
    return readdirSync("/proc/sys/fs/binfmt_misc").some((e) => e !== "register" && e !== "status");
  } catch {
    return false;
  }
}

/**
 * Spawn the relay, detached (own session and group), gated, with stdout+stderr appended to `logPath`.
 * Resolves once its traps are set (about a millisecond); several spawns started together wait together.
 */
export async function spawnGated(opts: SpawnOptions): Promise<Gated> {
  // posix_spawn reports a missing cwd as ENOENT for the program, which would blame the command.
  if (!existsSync(opts.cwd) || !statSync(opts.cwd).isDirectory()) {
    throw new SvError(`cannot start ${opts.argv[0]}: working directory ${opts.cwd} does not exist`, { hint: "check cwd: in the definition" });
  }
  const bad = Object.entries(opts.env).find(([k, v]) => k.includes("=") || k.includes("\0") || v?.includes("\0"));
  if (bad) throw new SvError(`cannot start ${opts.argv[0]}: the variable ${JSON.stringify(bad[0])} cannot be passed on (a NUL byte or "=")`, { hint: "check env: and env_file: in the definition" });
  const why = whyNotRunnable(opts.argv[0]!, opts.cwd, opts.env.PATH);
  if (why !== null) throw new SvError(`cannot start ${opts.argv[0]}: ${why}`, { hint: "check command: in the definition" });
  ensurePrivateDir(dirname(opts.logPath));
  ensurePrivateDir(dirname(opts.exitPrefix));
  const fd = openPrivate(opts.logPath, "append", 0o600);
  let proc: Bun.Subprocess<"pipe", number, number>;
  try {
    proc = Bun.spawn(["/bin/sh", "-c", RELAY, opts.exitPrefix, ...opts.argv], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["pipe", fd, fd],
      detached: true,
    });
  } catch (e) {
    // Bun's message may quote the value it refused ("Received ..."): an env value is a secret, never shown.
    const message = (e as Error).message.replace(/\.?\s*Received[\s\S]*$/, "");
    throw new SvError(`cannot start ${opts.argv[0]}: ${message}`, { hint: "check command: in the definition", cause: e });
  } finally {
    closeSync(fd);
  }
  // Without unref, sv would stay alive until the service exits.
  proc.unref();
  // After the traps: by then the relay has exec'd, and reading its stat no longer waits on the fork.
  await awaitTraps(proc.pid);
  const stat = readStat(proc.pid);
  const gate = proc.stdin;
  const ended = proc.exited.then(() => undefined);
  // Decided once: a release after an abort opens nothing, an abort after a release takes nothing back.
  let gateState: "shut" | "released" | "aborted" = "shut";
  const end = () => {
    try {
      gate.end();
    } catch {}
  };
  return {
    pid: proc.pid,
    startTicks: stat?.startTicks ?? -1,
    async release() {
      if (gateState !== "shut") return;
      gateState = "released";
      try {
        gate.write("go\n");
        await gate.flush();
      } catch {}
      end();
      await untilForked(proc.pid, ended);
    },
    abort() {
      if (gateState === "shut") {
        gateState = "aborted";
        end();
      }
      return gateState === "aborted";
    },
    exited: ended,
  };
}

/**
 * Wait (about a millisecond, at most ARM_TIMEOUT_MS) until the relay at `pid` catches the signals of
 * RELAY_TRAPPED, or ignores them (ignored when sv was started, e.g. HUP under nohup: the shell cannot trap
 * those), or has ended. Asynchronous, so that the relays of a batch of starts arm in parallel.
 */
async function awaitTraps(pid: number): Promise<void> {
  const deadline = performance.now() + ARM_TIMEOUT_MS;
  for (let first = true; ; first = false) {
    if (first) await Promise.resolve();
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, "latin1");
    } catch {
      return;
    }
    const mask = (field: RegExp) => BigInt(`0x${field.exec(status)?.[1] ?? "0"}`);
    if (/\nState:\s*[ZX]/.test(status) || ((mask(/\nSigCgt:\s*([0-9a-f]+)/) | mask(/\nSigIgn:\s*([0-9a-f]+)/)) & TRAPPED_MASK) === TRAPPED_MASK) return;
    if (performance.now() >= deadline) return;
    await Bun.sleep(0);
  }
}

/** Decode what the relay wrote: a shell exit status (128+N for a signal), or "unborn". */
export function parseExitRecord(text: string): { unborn: true } | { code: number | null; signal: string | null } | null {
  const t = text.trim();
  if (t === "unborn") return { unborn: true };
  if (!/^\d{1,3}$/.test(t)) return null;
  const status = Number(t);
  const signal = signalOfStatus(status);
  return signal ? { code: null, signal } : { code: status, signal: null };
}

/** The signal a shell-style exit status 128+N means (a death by signal N, as shells and engines report it), or null. */
export function signalOfStatus(status: number): string | null {
  if (!(status > 128 && status < 128 + 65)) return null;
  return Object.entries(require("node:os").constants.signals as Record<string, number>).find(([, n]) => n === status - 128)?.[0] ?? null;
}
