// Starting a service process: detached in its own session, behind a start gate and an exit relay,
// output appended to its log, user and limits applied.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { SvError } from "../errors.ts";
import { readStat } from "./identity.ts";

/**
 * The relay: a /bin/sh that leads the unit's session and process group. It blocks on its stdin (the
 * gate) until sv writes a line, which sv does only after the store has recorded it; if sv dies first
 * the pipe closes, the read fails, and it exits "unborn" without running anything. Then it runs the
 * service as its child and writes the child's exit status to `$0.PID.exit`, so any later sv knows
 * how the service ended. Traps (not ignores: an ignored signal would be inherited by the service) keep
 * it alive through a group-wide stop signal until the service has exited.
 */
const RELAY = [
  'f="$0.$$.exit"',
  'IFS= read -r go || { echo unborn >"$f"; exit 0; }',
  "exec 0</dev/null",
  "trap : TERM INT HUP QUIT USR1 USR2",
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
  const lookup = (file: string, key: string) =>
    readFileSync(file, "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .find((f) => f[0] === key || f[2] === key);
  if (runAs.group !== undefined && !lookup("/etc/group", runAs.group)) {
    throw new SvError(`${name}: group "${runAs.group}" does not exist`, { hint: "check group: in the definition" });
  }
  if (runAs.user === undefined) return {};
  const pw = lookup("/etc/passwd", runAs.user);
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
  const pw = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === user || f[2] === user);
  return pw?.[3] ?? user;
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
  /** Let the service run. */
  release(): Promise<void>;
  /** Close the gate: the relay exits without running the service. */
  abort(): void;
  /** Settles when the relay exits, while this sv is alive to see it. */
  exited: Promise<void>;
}

/** Is `program` something posix_spawn could run (a path that exists, or a name found on PATH)? */
function findProgram(program: string, cwd: string, path: string | undefined): boolean {
  if (program.includes("/")) return existsSync(program.startsWith("/") ? program : `${cwd}/${program}`);
  return Bun.which(program, { PATH: path ?? "", cwd }) !== null;
}

/** Spawn the relay, detached (own session and group), gated, with stdout+stderr appended to `logPath`. */
export function spawnGated(opts: SpawnOptions): Gated {
  // posix_spawn reports a missing cwd as ENOENT for the program, which would blame the command.
  if (!existsSync(opts.cwd) || !statSync(opts.cwd).isDirectory()) {
    throw new SvError(`cannot start ${opts.argv[0]}: working directory ${opts.cwd} does not exist`, { hint: "check cwd: in the definition" });
  }
  // The relay would only report "not found" as exit code 127 in the log: say it now, plainly.
  if (!findProgram(opts.argv[0]!, opts.cwd, opts.env.PATH)) {
    throw new SvError(`cannot start ${opts.argv[0]}: command not found`, { hint: "check command: in the definition" });
  }
  mkdirSync(dirname(opts.logPath), { recursive: true });
  mkdirSync(dirname(opts.exitPrefix), { recursive: true });
  const fd = openSync(opts.logPath, "a");
  let proc: Bun.Subprocess<"pipe", number, number>;
  try {
    proc = Bun.spawn(["/bin/sh", "-c", RELAY, opts.exitPrefix, ...opts.argv], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["pipe", fd, fd],
      detached: true,
    });
  } catch (e) {
    throw new SvError(`cannot start ${opts.argv[0]}: ${(e as Error).message}`, { hint: "check command: in the definition", cause: e });
  } finally {
    closeSync(fd);
  }
  // Without unref, sv would stay alive until the service exits.
  proc.unref();
  const stat = readStat(proc.pid);
  const gate = proc.stdin;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      gate.end();
    } catch {}
  };
  return {
    pid: proc.pid,
    startTicks: stat?.startTicks ?? -1,
    async release() {
      if (closed) return;
      try {
        gate.write("go\n");
        await gate.flush();
      } catch {}
      close();
    },
    abort: close,
    exited: proc.exited.then(() => undefined),
  };
}

/** Decode what the relay wrote: a shell exit status (128+N for a signal), or "unborn". */
export function parseExitRecord(text: string): { unborn: true } | { code: number | null; signal: string | null } | null {
  const t = text.trim();
  if (t === "unborn") return { unborn: true };
  if (!/^\d{1,3}$/.test(t)) return null;
  const status = Number(t);
  if (status > 128 && status < 128 + 65) {
    const name = Object.entries(require("node:os").constants.signals as Record<string, number>).find(([, n]) => n === status - 128)?.[0];
    if (name) return { code: null, signal: name };
  }
  return { code: status, signal: null };
}
