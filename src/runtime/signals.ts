// Stopping a service: its stop signal to the whole process group, a grace period, then SIGKILL.
import { groupMembers, isDead, readStat } from "./identity.ts";

export interface StopResult {
  /** The group had to be SIGKILLed after the grace period. */
  forced: boolean;
  /** Nothing of ours was running (dead, or the pid now belongs to another process). */
  wasRunning: boolean;
  durationMs: number;
}

/**
 * Can process group `pgid` (led by our service, started at `startTicks`) be signalled safely?
 * The kernel never hands out a pid that is still some group's id, so while members of our group live
 * the pid cannot have been reused; if a *different* process now holds the pid, our group is long gone.
 */
export function isOurGroup(pgid: number, startTicks: number): boolean {
  const leader = readStat(pgid);
  if (leader && !isDead(leader)) return leader.startTicks === startTicks;
  // Leader gone: does the group still exist? kill(-pgid, 0) answers in a microsecond; only when it says
  // yes is /proc scanned, since it counts zombies too: a group of only zombies (its leader not yet reaped
  // by a slow PID 1) has nothing running, and "was it running?" must say no.
  return groupExists(pgid) && groupMembers(pgid).length > 0;
}

function groupExists(pgid: number): boolean {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Are live (non-zombie) processes left in our group? Scans /proc only when the leader is gone but the group
 * is not (its zombie leader not yet reaped, or stray members). One scan (~5 ms here) serves every group
 * signalled before it began, for 25 ms (stopping 50 units at once must not scan 50 times a round): an
 * empty answer cannot be stale, since a signalled group gains members only by a fork of a live one,
 * which the scan would have seen.
 */
function hasLiveMembers(pgid: number, startTicks: number, since: number): boolean {
  const leader = readStat(pgid);
  if (leader && !isDead(leader)) return leader.startTicks === startTicks;
  // Only a scan begun after the group was signalled counts (a group younger than an older scan is not in it).
  return groupExists(pgid) && groupMembers(pgid, SCAN_SHARE_MS, since).length > 0;
}

/** How long one /proc scan answers for every group being waited on. */
const SCAN_SHARE_MS = 25;

/** When each group was last signalled by this sv (performance.now()), for waitGroupEmpty's shared scans. */
const signalled = new Map<number, number>();

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  signalled.set(pgid, performance.now());
  // kill(-1) reaches every process we may signal and kill(-0) our own group: never, whatever a record says.
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new Error(`bug: refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/**
 * Resolves true once no live process is left in our group, false at the deadline. A leader pid that
 * now belongs to another process (reused once our group emptied) counts as gone, not as a straggler.
 */
async function waitGroupEmpty(pgid: number, startTicks: number, deadline: number): Promise<boolean> {
  // A scan made after the group was signalled has seen every member it could still have.
  const since = signalled.get(pgid) ?? performance.now();
  for (let pause = 2; ; pause = Math.min(pause * 2, 20)) {
    if (!hasLiveMembers(pgid, startTicks, since)) return true;
    if (performance.now() >= deadline) return false;
    await Bun.sleep(pause);
  }
}

/** stop_signal to the group, wait up to `timeoutMs`, then SIGKILL the group and wait for it to go. */
export async function stopGracefully(pgid: number, startTicks: number, signal: NodeJS.Signals, timeoutMs: number): Promise<StopResult> {
  const t0 = performance.now();
  if (!isOurGroup(pgid, startTicks)) return { forced: false, wasRunning: false, durationMs: 0 };
  signalGroup(pgid, signal);
  if (await waitGroupEmpty(pgid, startTicks, t0 + timeoutMs)) return { forced: false, wasRunning: true, durationMs: performance.now() - t0 };
  if (isOurGroup(pgid, startTicks)) signalGroup(pgid, "SIGKILL");
  await waitGroupEmpty(pgid, startTicks, performance.now() + 5000);
  return { forced: true, wasRunning: true, durationMs: performance.now() - t0 };
}

/** SIGKILL the group now, without waiting for it to go (safe under the store lock); false if it was not ours. */
export function killGroupNow(pgid: number, startTicks: number): boolean {
  if (!isOurGroup(pgid, startTicks)) return false;
  signalGroup(pgid, "SIGKILL");
  return true;
}

/** SIGKILL the whole group at once (a failed start, or a stop that must not wait). */
export async function killGroup(pgid: number, startTicks: number): Promise<void> {
  if (!isOurGroup(pgid, startTicks)) return;
  signalGroup(pgid, "SIGKILL");
  await waitGroupEmpty(pgid, startTicks, performance.now() + 5000);
}
