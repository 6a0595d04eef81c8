// Process identity from /proc: a pid is "ours" only while its start time matches and it has not ended.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  /** The main thread's R, S, D, Z, T … (man 5 proc); see isDead for what Z means. */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  startTicks: number;
  /** Threads not yet exited (field 20): 1 for a zombie whose every thread is gone. */
  threads: number;
}

/** Parse /proc/PID/stat; fields are counted after the last ")" since comm may hold anything. */
export function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After comm: state(3) ppid(4) pgrp(5) session(6) … starttime(22), i.e. index field-3.
  return { pid, state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), startTicks: Number(f[19]), threads: Number(f[17]) };
}

/**
 * Has the process ended? /proc/PID/stat shows the main thread only: a multi-threaded process (bun) whose
 * main thread has exited shows Z while its other threads still run and hold its files and ports. So a Z
 * is dead only once no thread of it is left that is not Z or X. The threads are read only for a Z that
 * still counts more than one (num_threads): the common path, and every plain zombie, stay one read.
 */
export function isDead(stat: ProcStat | null): boolean {
  if (stat === null || stat.state === "X") return true;
  return stat.state === "Z" && (!(stat.threads > 1) || !hasLiveThread(stat.pid));
}

function hasLiveThread(pid: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  for (const tid of tids) {
    if (tid === String(pid)) continue;
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1");
      const state = text[text.lastIndexOf(")") + 2];
      if (state !== "Z" && state !== "X") return true;
    } catch {}
  }
  return false;
}

/** True when `pid` is alive and is the very process that started at `startTicks`. */
export function isSameProcess(pid: number | null, startTicks: number | null): boolean {
  if (pid === null || startTicks === null) return false;
  const stat = readStat(pid);
  return !isDead(stat) && stat!.startTicks === startTicks;
}

let scanCache: { at: number; groups: Map<number, number[]> } | undefined;

/** Live (not ended) members of every process group, from one /proc scan shared for a few ms. */
export function liveGroups(maxAgeMs = 5, notBefore = -Infinity): Map<number, number[]> {
  const now = performance.now();
  if (scanCache && scanCache.at >= notBefore && now - scanCache.at < maxAgeMs) return scanCache.groups;
  const groups = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readStat(pid);
    if (isDead(stat)) continue;
    const list = groups.get(stat!.pgid);
    if (list) list.push(pid);
    else groups.set(stat!.pgid, [pid]);
  }
  scanCache = { at: now, groups };
  return groups;
}

/** Live members of process group `pgid`. */
export function groupMembers(pgid: number, maxAgeMs = 5, notBefore = -Infinity): number[] {
  return liveGroups(maxAgeMs, notBefore).get(pgid) ?? [];
}

/** This process's own start ticks, to mark units it owns. */
export function selfTicks(): number {
  return readStat(process.pid)!.startTicks;
}

/** The children of `pid` (its main thread's), from /proc; empty when it has none or they cannot be read. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1").trim().split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
