// What the init benchmark reads from /proc: a namespace init's children, a process's memory, and a fast poll.
import { readdirSync, readFileSync } from "node:fs";

export interface Proc {
  pid: number;
  state: string;
  comm: string;
}

/** The children of host pid `pid` (its orphans included, once re-parented), by a scan of /proc. */
export function nsChildren(pid: number): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) !== pid) continue;
      out.push({ pid: Number(name), state: rest[0]!, comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {}
  }
  return out;
}

/** The state letter of `pid` (R, S, Z …), or null when it is gone. */
export function stateOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return null;
  }
}

/** Resident set (VmRSS) and unique set (private clean + dirty, smaps_rollup) of `pid`, in KiB. */
export function procMemory(pid: number): { rssKb: number; ussKb: number } {
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, "latin1");
  return { rssKb: kb(status, "VmRSS"), ussKb: kb(smaps, "Private_Clean") + kb(smaps, "Private_Dirty") };
}

/** Poll `check` every `pauseMs` (0: as fast as the event loop turns) until it returns a value, or throw at `timeoutMs`. */
export async function waitUntil<T>(check: () => T | null | undefined | false, timeoutMs: number, what: string, pauseMs = 5): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let value: T | null | undefined | false = null;
    try {
      value = check();
    } catch {}
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(pauseMs);
  }
}
