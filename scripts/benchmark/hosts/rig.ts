// The hosts the host phases run against: test/helpers/hosts.ts's rig of real sshd hosts (each in its own
// network, pid, mount and uts namespaces, on a bridge of the rig's own), started on first use and stopped by
// stopRig() (bench.ts calls it after the last host phase and on every exit path, SIGINT included; the helper's
// own exit hook and `bun test/helpers/hosts.ts cleanup` catch the rest). Whatever the benchmark leaves on a
// host goes with it: stop() ends every process of the host's pid namespace, then its netns and dirs.
import { existsSync } from "node:fs";
import { type HostRig, startHosts, timings } from "../../../test/helpers/hosts.ts";

export type { HostRig, TestHost } from "../../../test/helpers/hosts.ts";

/** Every host phase runs on this many hosts (the issue's targets are for 3). */
export const HOST_COUNT = 3;

let started: Promise<HostRig> | null = null;
const notes: string[] = [];

/** Why the rig cannot be built here, or null. */
export function hostsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "the test hosts need root (network and pid namespaces): run the benchmark as root";
  for (const [bin, pkg] of [
    ["sshd", "openssh-server"],
    ["ssh", "openssh-client"],
    ["tini", "tini"],
    ["nsenter", "util-linux"],
    ["unshare", "util-linux"],
    ["ip", "iproute2"],
    ["bash", "bash"],
  ] as const) {
    if (!Bun.which(bin) && !existsSync(`/usr/sbin/${bin}`)) return `${bin} not found (install ${pkg})`;
  }
  if (!Bun.which("busybox")) return "no busybox (install busybox-static): the services are busybox httpd";
  return null;
}

/** The rig, started (HOST_COUNT hosts) the first time it is asked for. */
export function rigFor(log: (line: string) => void): Promise<HostRig> {
  if (!started) {
    started = startHosts(HOST_COUNT).then((rig) => {
      const line = `${rig.hosts.length} sshd hosts (${rig.hosts.map((h) => `${h.name} ${h.address}`).join(", ")}) in ${rig.dir}, up in ${timings.startMs.toFixed(0)} ms; ${sshVersion()}`;
      log(line);
      notes.push(line);
      return rig;
    });
    started.catch(() => (started = null));
  }
  return started;
}

function sshVersion(): string {
  const r = Bun.spawnSync(["ssh", "-V"], { stdio: ["ignore", "pipe", "pipe"] });
  return `client ${`${r.stderr.toString()}${r.stdout.toString()}`.trim() || "ssh (version unknown)"}`;
}

/** One line per rig started, for the report. */
export const rigNotes = (): string[] => [...notes];

/** Stop the rig if one was started here (every process on its hosts goes with it). */
export async function stopRig(log: (line: string) => void): Promise<void> {
  const p = started;
  if (!p) return;
  started = null;
  const rig = await p.catch(() => null);
  if (!rig) return;
  try {
    await rig.stop();
  } catch (e) {
    log(`stopping the hosts failed: ${(e as Error).message}`);
  }
}
