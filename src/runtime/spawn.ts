// Starting a service process: detached in its own session, output appended to its log, limits applied.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { SvError } from "../errors.ts";
import type { Service } from "../config/schema.ts";
import { readStat } from "./identity.ts";

export interface Spawned {
  pid: number;
  startTicks: number;
  /** Settles when the process exits, while this sv is alive to see it (it is our child until we exit). */
  exited: Promise<ExitStatus>;
}

/** argv for a command: a string runs through /bin/sh -c, a list is argv as is. */
export function commandArgv(command: string | string[]): string[] {
  return typeof command === "string" ? ["/bin/sh", "-c", command] : command;
}

/** uid/gid and login env of `user`/`group` from /etc/passwd and /etc/group. */
function resolveUser(svc: Service): { uid?: number; gid?: number; env: Record<string, string> } {
  if (svc.user === undefined && svc.group === undefined) return { env: {} };
  if (process.getuid?.() !== 0) {
    throw new SvError(`${svc.name}: user/group need sv to run as root`, { hint: "run sv as root, or remove user:/group: from the definition" });
  }
  const lookup = (file: string, name: string) =>
    readFileSync(file, "utf8")
      .split("\n")
      .map((l) => l.split(":"))
      .find((f) => f[0] === name || f[2] === name);
  const out: { uid?: number; gid?: number; env: Record<string, string> } = { env: {} };
  if (svc.user !== undefined) {
    const pw = lookup("/etc/passwd", svc.user);
    if (!pw) throw new SvError(`${svc.name}: user "${svc.user}" does not exist`, { hint: "check user: in the definition" });
    out.uid = Number(pw[2]);
    out.gid = Number(pw[3]);
    out.env = { USER: pw[0]!, LOGNAME: pw[0]!, HOME: pw[5]! };
  }
  if (svc.group !== undefined) {
    const gr = lookup("/etc/group", svc.group);
    if (!gr) throw new SvError(`${svc.name}: group "${svc.group}" does not exist`, { hint: "check group: in the definition" });
    out.gid = Number(gr[2]);
  }
  return out;
}

/** Wrap argv with prlimit so limits apply from the first instruction (setting them after spawn races). */
function withLimits(svc: Service, argv: string[]): string[] {
  const { memoryBytes, nofile, nproc } = svc.limits;
  const flags: string[] = [];
  if (nofile !== undefined) flags.push(`--nofile=${nofile}:${nofile}`);
  if (nproc !== undefined) flags.push(`--nproc=${nproc}:${nproc}`);
  if (memoryBytes !== undefined) flags.push(`--as=${memoryBytes}:${memoryBytes}`);
  return flags.length ? ["prlimit", ...flags, "--", ...argv] : argv;
}

export interface SpawnOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  logPath: string;
  uid?: number;
  gid?: number;
}

/** Spawn detached (own session and process group), stdout+stderr appended to `logPath`. */
export function spawnDetached(opts: SpawnOptions): Spawned {
  // posix_spawn reports a missing cwd as ENOENT for the program, which would blame the command.
  if (!existsSync(opts.cwd) || !statSync(opts.cwd).isDirectory()) {
    throw new SvError(`cannot start ${opts.argv[0]}: working directory ${opts.cwd} does not exist`, { hint: "check cwd: in the definition" });
  }
  mkdirSync(dirname(opts.logPath), { recursive: true });
  const fd = openSync(opts.logPath, "a");
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(opts.argv, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", fd, fd],
      detached: true,
      uid: opts.uid,
      gid: opts.gid,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "command not found" : code === "EACCES" ? "permission denied" : code === "ENOEXEC" ? "not an executable program (missing #! line?)" : (e as Error).message;
    throw new SvError(`cannot start ${opts.argv[0]}: ${why}`, { hint: "check command: in the definition", cause: e });
  } finally {
    closeSync(fd);
  }
  // Without unref, sv would stay alive until the service exits.
  proc.unref();
  const stat = readStat(proc.pid);
  const exited = proc.exited.then((code) => ({ code: proc.signalCode ? null : code, signal: proc.signalCode ? String(proc.signalCode) : null }));
  children.set(proc.pid, exited);
  return { pid: proc.pid, startTicks: stat?.startTicks ?? -1, exited };
}

export type ExitStatus = { code: number | null; signal: string | null };

/** Processes this sv spawned (it is their parent while it lives, so it learns how they exit). */
const children = new Map<number, Promise<ExitStatus>>();

/**
 * How a process this sv spawned exited, waiting up to `waitMs` for the runtime to reap it; undefined
 * for processes started by another sv (their exit status is lost with their parent).
 */
export async function childExit(pid: number, waitMs = 100): Promise<ExitStatus | undefined> {
  const exited = children.get(pid);
  if (!exited) return undefined;
  return Promise.race([exited, Bun.sleep(waitMs).then(() => undefined)]);
}

/** Spawn one unit of `svc` with its environment, user and limits. */
export function spawnService(svc: Service, opts: { instance: number; logPath: string; env: Record<string, string> }): Spawned {
  const user = resolveUser(svc);
  return spawnDetached({
    argv: withLimits(svc, commandArgv(svc.command)),
    cwd: svc.cwd,
    env: { ...process.env, ...user.env, ...svc.env, ...opts.env, SV_SERVICE: svc.name, SV_INSTANCE: String(opts.instance) },
    logPath: opts.logPath,
    uid: user.uid,
    gid: user.gid,
  });
}
