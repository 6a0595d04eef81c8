// Process identity from /proc: a pid is "ours" only while its start time matches and it is not a zombie.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  /** R, S, D, Z, T … (man 5 proc); Z and X are dead. */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  startTicks: number;
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
  return { pid, state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), startTicks: Number(f[19]) };
}

export function isDead(stat: ProcStat | null): boolean {
  return stat === null || stat.state === "Z" || stat.state === "X";
}

/** True when `pid` is alive and is the very process that started at `startTicks`. */
export function isSameProcess(pid: number | null, startTicks: number | null): boolean {
  if (pid === null || startTicks === null) return false;
  const stat = readStat(pid);
  return !isDead(stat) && stat!.startTicks === startTicks;
}

let scanCache: { at: number; groups: Map<number, number[]> } | undefined;

/** Live (non-zombie) members of every process group, from one /proc scan shared for a few ms. */
export function liveGroups(maxAgeMs = 5): Map<number, number[]> {
  const now = performance.now();
  if (scanCache && now - scanCache.at < maxAgeMs) return scanCache.groups;
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
  scanCache = { at: performance.now(), groups };
  return groups;
}

/** Live members of process group `pgid`. */
export function groupMembers(pgid: number, maxAgeMs = 5): number[] {
  return liveGroups(maxAgeMs).get(pgid) ?? [];
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
