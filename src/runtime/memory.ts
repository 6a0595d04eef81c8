// The memory of a long-running sv (watch): code that only start-up or a burst of work ran need not stay mapped.
import { FFIType } from "bun:ffi";
import { readFileSync, readlinkSync } from "node:fs";
import { libcLoader } from "./libc.ts";

const MADV_DONTNEED = 4;

const lib = libcLoader({
  madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
});

/**
 * Unmap the pages of our own executable's read-only mappings (code and constants). Start-up (argument
 * parsing, config loading and validation) and a restart (spawning, store writes) run far more of the
 * runtime and of sv than an idle watch loop, and every page they touched (with the kernel's
 * fault-around, the 64 KiB around each touch) stays mapped, counted in RSS and USS, until the process
 * exits: 10-15 MiB of the ~35 MiB of Bun's code a watch has mapped. The pages stay in the page cache,
 * so one used again is mapped again on a minor fault (no I/O), and unmapped ones are easier for the
 * kernel to reclaim. A mapping with private copies (relocated RELRO data: Anonymous > 0) is skipped, as
 * is anything writable: dropping those would lose data. Returns the bytes of address space given back
 * (0 where this is unavailable).
 */
export function releaseCodePages(): number {
  const c = lib();
  if (!c) return 0;
  let exe: string;
  let smaps: string;
  try {
    exe = readlinkSync("/proc/self/exe");
    smaps = readFileSync("/proc/self/smaps", "utf8");
  } catch {
    return 0;
  }
  let bytes = 0;
  // One header line per mapping (start-end perms offset dev inode path), then its fields.
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (r-[-x]p) \S+ \S+ \d+\s+(.*)\n/.exec(block);
    if (!m || m[4] !== exe || !/^Anonymous:\s+0 kB$/m.test(block)) continue;
    const start = BigInt(`0x${m[1]}`);
    const length = BigInt(`0x${m[2]}`) - start;
    if (c.madvise(start, length, MADV_DONTNEED) === 0) bytes += Number(length);
  }
  return bytes;
}
