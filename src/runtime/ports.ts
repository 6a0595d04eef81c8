// Who listens on a TCP port: the LISTEN socket's inode from /proc/net/tcp{,6}, then the process holding it from /proc/*/fd.
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from "node:fs";
import { endianness } from "node:os";

/** The process listening on a port; pid and command are null when sv cannot see it (another user, another namespace). */
export interface PortHolder {
  pid: number | null;
  command: string | null;
  inode: number;
}

/** One LISTEN socket as /proc/net/tcp{,6} lists it. */
export interface Listener {
  address: string;
  port: number;
  inode: number;
}

const PROC_NET_TCP = ["/proc/net/tcp", "/proc/net/tcp6"];
const LISTEN = "0A";
const COMMAND_MAX_CHARS = 120;
/** Enough of /proc/PID/cmdline for COMMAND_MAX_CHARS (a command line can be megabytes long). */
const CMDLINE_READ_BYTES = 4096;
const LITTLE_ENDIAN = endianness() === "LE";

/** The process listening on TCP `port` on any local address, or null when nothing listens there. */
export function findPortHolder(port: number): PortHolder | null {
  const inodes = listenersOn(port).map((l) => l.inode);
  if (inodes.length === 0) return null;
  const owner = socketOwner(new Set(inodes));
  if (!owner) return { pid: null, command: null, inode: inodes[0]! };
  return { pid: owner.pid, command: commandOf(owner.pid), inode: owner.inode };
}

/** Whether no socket listens on TCP `port` (on any local address). */
export function isPortFree(port: number): boolean {
  return listenersOn(port).length === 0;
}

/** Why `port` cannot be served (taken by a listener, named when sv can see it), or null when it is free. */
export function portInUse(port: number): string | null {
  if (!isPortTaken(port)) return null;
  return describePortHolder(port, findPortHolder(port) ?? { pid: null, command: null, inode: 0 });
}

/** The message for a port that is taken: by which pid and command, when sv can see them. */
export function describePortHolder(port: number, holder: PortHolder): string {
  if (holder.pid === null) return `port ${port} is already in use (by a process sv cannot see)`;
  return `port ${port} is already in use by pid ${holder.pid}${holder.command ? ` (${holder.command})` : ""}`;
}

/** The LISTEN sockets on `port`, IPv4 then IPv6; each file read once, a missing one (no IPv6) counts as empty. */
function listenersOn(port: number): Listener[] {
  return PROC_NET_TCP.flatMap((file) => parseListeners(readOrEmpty(file))).filter((l) => l.port === port);
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return "";
  }
}

/**
 * The LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6. Columns: sl, local_address, rem_address, st, …,
 * inode (the 10th). The port is big-endian hex; the address is 32-bit words, each printed in host byte order.
 */
export function parseListeners(text: string): Listener[] {
  const listeners: Listener[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [address, port] = fields[1]!.split(":");
    if (!address || !port) continue;
    listeners.push({ address: decodeAddress(address), port: Number.parseInt(port, 16), inode: Number(fields[9]) });
  }
  return listeners;
}

/** A /proc/net address (8 hex digits for IPv4, 32 for IPv6) as text: `127.0.0.1`, `::1`, `::ffff:127.0.0.1`. */
export function decodeAddress(hex: string): string {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const wordBytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(word + i, word + i + 2), 16));
    bytes.push(...(LITTLE_ENDIAN ? wordBytes.reverse() : wordBytes));
  }
  if (bytes.length === 4) return bytes.join(".");
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join(".")}`;
  return compressIpv6(groups);
}

/** Eight 16-bit groups in the short form: the longest run of two or more zero groups becomes `::`. */
function compressIpv6(groups: number[]): string {
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start === -1) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}

/** The first process with an open fd on one of the socket `inodes`; processes whose fds sv cannot read are skipped. */
function socketOwner(inodes: Set<number>): { pid: number; inode: number } | null {
  const links = new Map([...inodes].map((inode) => [`socket:[${inode}]`, inode]));
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = links.get(link);
      if (inode !== undefined) return { pid: Number(entry), inode };
    }
  }
  return null;
}

/**
 * A process's command line for a one-line message: arguments joined by spaces (runs of whitespace, newlines in an
 * argument too, become one space), cut to COMMAND_MAX_CHARS; `[comm]` when it has none (a kernel thread); null if gone.
 */
function commandOf(pid: number): string | null {
  try {
    const command = readHead(`/proc/${pid}/cmdline`, CMDLINE_READ_BYTES).replace(/[\0\s]+/g, " ").trim();
    if (command === "") return `[${readFileSync(`/proc/${pid}/comm`, "utf8").trim()}]`;
    return command.length > COMMAND_MAX_CHARS ? `${command.slice(0, COMMAND_MAX_CHARS - 1)}…` : command;
  } catch {
    return null;
  }
}

/** The first `maxBytes` of a file, as UTF-8. */
function readHead(file: string, maxBytes: number): string {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(maxBytes);
    let length = 0;
    while (length < maxBytes) {
      const n = readSync(fd, buffer, length, maxBytes - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Is TCP `port` taken by a listener? A bind to the wildcard address answers in microseconds (reading
 * /proc/net/tcp walks the kernel's whole socket hash: ~10 ms); /proc is read only when the bind fails.
 */
export function isPortTaken(port: number): boolean {
  try {
    const probe = Bun.listen({ hostname: "0.0.0.0", port, socket: { data() {} } });
    probe.stop(true);
    return false;
  } catch (e) {
    const inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE" || /in use/i.test((e as Error).message);
    // A bind also fails on a port that only has TIME_WAIT (or outgoing) sockets, which a server with
    // SO_REUSEADDR binds fine: only a listener counts.
    return inUse && !isPortFree(port);
  }
}
