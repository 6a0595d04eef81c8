// Reaping orphans for `sv init`: as PID 1 (or a child subreaper, PR_SET_CHILD_SUBREAPER) every orphan of the
// services is re-parented to sv, and its zombie stays until sv waits for it. Bun waits only for the children
// it spawned (one pidfd each), and a status taken from under it is fatal: Bun throws ECHILD out of its event
// loop. So this reaper never calls waitpid(-1): it lists sv's children (/proc/self/task/*/children) and
// waits (WNOHANG), by pid, only for those that are not Bun's — neither spawned through Bun.spawn since start()
// (a registry of their pids) nor watched by a pidfd of this process (what Bun holds for every child it
// waits for, so a spawn that bypassed the registry is still left to Bun). It runs on SIGCHLD, and every
// SAFETY_SCAN_MS in case a signal was coalesced with one that came while a scan ran.
import { FFIType, ptr } from "bun:ffi";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { readStat } from "./identity.ts";
import { libcLoader } from "./libc.ts";

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
/** A scan even without SIGCHLD, this often. */
const SAFETY_SCAN_MS = 1000;

const lib = libcLoader({
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
});

/** Make this process the reaper of its descendants' orphans (Linux 3.4+). False where it cannot. */
export function becomeSubreaper(): boolean {
  const c = lib();
  return c !== null && c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;
}

/** One reaped orphan: its pid and its raw wait status. */
export interface Reaped {
  pid: number;
  status: number;
}

export interface Reaper {
  /** Orphans reaped so far. */
  readonly count: number;
  /** Scan now; the orphans reaped. */
  scan(): Reaped[];
  /**
   * SIGKILL what is left outside the units: as PID 1, every process of the namespace (kill(-1)); as a
   * subreaper, every child of ours that is not Bun's (the orphans), again as their own orphans come to us,
   * until none is left or `timeoutMs` passes.
   */
  killStrays(timeoutMs: number): Promise<void>;
  stop(): void;
}

/** Our children's pids: each thread's children file, or (a kernel without CONFIG_PROC_CHILDREN) a /proc scan. */
function childPids(): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return [];
  }
  for (const tid of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/task/${tid}/children`, "latin1");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && tid === tasks[0]) return childrenByScan();
      continue;
    }
    for (const word of text.split(" ")) if (word) out.push(Number(word));
  }
  return out;
}

function childrenByScan(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    if (readStat(Number(name))?.ppid === process.pid) out.push(Number(name));
  }
  return out;
}

/** The pids our open pidfds refer to (Bun's, and the exit watchers'). */
function pidfdTargets(): Set<number> {
  const out = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).includes("pidfd")) continue;
      const pid = /^Pid:\s*(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "latin1"))?.[1];
      if (pid !== undefined) out.add(Number(pid));
    } catch {}
  }
  return out;
}

/** Start reaping; `onReap` hears of each orphan reaped. Call once, before anything is spawned. */
export function startReaper(onReap: (r: Reaped) => void = () => {}): Reaper {
  const own = new Set<number>();
  let syncDepth = 0;
  let count = 0;
  const bun = Bun as { spawn: typeof Bun.spawn; spawnSync: typeof Bun.spawnSync };
  const { spawn, spawnSync } = bun;
  // Every child Bun spawns is Bun's to wait for: recorded until Bun has (its `exited` settles after the wait).
  bun.spawn = ((...args: Parameters<typeof Bun.spawn>) => {
    const proc = spawn(...args);
    own.add(proc.pid);
    proc.exited.then(
      () => own.delete(proc.pid),
      () => own.delete(proc.pid),
    );
    return proc;
  }) as typeof Bun.spawn;
  // spawnSync waits inside the call, on this thread: no scan can run meanwhile; the depth is a second guard.
  bun.spawnSync = ((...args: Parameters<typeof Bun.spawnSync>) => {
    syncDepth++;
    try {
      return spawnSync(...args);
    } finally {
      syncDepth--;
    }
  }) as typeof Bun.spawnSync;

  const status = new Int32Array(1);
  const scan = (): Reaped[] => {
    const c = lib();
    if (!c || syncDepth > 0) return [];
    // A child that is not Bun's is ours to wait for, dead or alive: waitpid(WNOHANG) on a live one returns 0,
    // in less time than reading its stat to see if it is a zombie.
    const candidates = childPids().filter((pid) => !own.has(pid));
    if (candidates.length === 0) return [];
    const watched = pidfdTargets();
    const out: Reaped[] = [];
    for (const pid of candidates) {
      if (watched.has(pid) || own.has(pid)) continue;
      if (c.waitpid(pid, ptr(status), WNOHANG) === pid) out.push({ pid, status: status[0]! });
    }
    count += out.length;
    for (const r of out) onReap(r);
    return out;
  };
  // Signals coalesce: one scan per turn of the event loop, however many came.
  let queued = false;
  const onChild = () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      scan();
    });
  };
  process.on("SIGCHLD", onChild);
  const timer = setInterval(scan, SAFETY_SCAN_MS);
  scan(); // orphans that came before we started (sv exec'd by a script that left some)

  return {
    get count() {
      return count;
    },
    scan,
    async killStrays(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        scan();
        const watched = pidfdTargets();
        const left = childPids().filter((pid) => !own.has(pid) && !watched.has(pid) && pid > 1 && readStat(pid)?.state !== "Z");
        if (left.length === 0 || performance.now() >= deadline) return;
        if (process.pid === 1) {
          // kill(-1) from a namespace's PID 1 reaches every process in it but PID 1 itself.
          try {
            process.kill(-1, "SIGKILL");
          } catch {}
        } else {
          for (const pid of left) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {}
          }
        }
        await Bun.sleep(5);
      }
    },
    stop() {
      process.off("SIGCHLD", onChild);
      clearInterval(timer);
      bun.spawn = spawn;
      bun.spawnSync = spawnSync;
    },
  };
}
