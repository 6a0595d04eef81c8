// What the end-to-end host tests share: a rig of real sshd hosts per file, and a temp project whose sv.yml
// declares them (root over the rig's key, its known_hosts, a short connect timeout).
import { afterAll, beforeAll } from "bun:test";
import { type HostRig, startHosts } from "../helpers/hosts.ts";
import { type TempProject, sv, tempProject } from "../helpers/project.ts";

/** Start `n` hosts before the file's tests, stop them after. */
export function useHosts(n: number): () => HostRig {
  let rig: HostRig | undefined;
  beforeAll(async () => {
    rig = await startHosts(n);
  }, 60_000);
  afterAll(async () => {
    await rig?.stop();
  }, 60_000);
  return () => {
    if (!rig) throw new Error("the hosts did not start");
    return rig;
  };
}

export interface HostProject extends TempProject {
  name: string;
  service(name: string, definition: Record<string, unknown>): void;
}

/** A project on the rig's hosts (h1, h2 …), with a unique name so each test has its own remote dir. */
export function hostProject(rig: HostRig, services: Record<string, Record<string, unknown>>, settings: Record<string, unknown> = {}, hostExtra: Record<string, unknown> = {}): HostProject {
  const name = `p${crypto.randomUUID().slice(0, 8)}`;
  const hosts = Object.fromEntries(rig.hosts.map((h) => [h.name, { address: h.address, user: "root", key_file: rig.keyFile, known_hosts: rig.knownHosts, connect_timeout: "1s", ...hostExtra }]));
  const p = tempProject({ "sv.yml": `${JSON.stringify({ name, hosts, ...settings })}\n` });
  const service = (svc: string, definition: Record<string, unknown>) => p.write(`services/${svc}.yml`, `${JSON.stringify(definition, null, 2)}\n`);
  for (const [svc, definition] of Object.entries(services)) service(svc, definition);
  return { ...p, name, service };
}

export interface Row {
  name: string;
  state: string;
  health: string;
  pid: number | null;
  host?: string;
  version?: string;
  restarts: number;
  last_error: string | null;
}

export async function statusOf(root: string): Promise<Record<string, Row>> {
  const r = await sv(root, ["status", "--json"]);
  const rows = JSON.parse(r.stdout).services as Row[];
  return Object.fromEntries(rows.map((x) => [x.name, x]));
}

/** busybox httpd serving `dir` on `port`, in the foreground (dies with its group). */
export const httpd = (port: number, dir: string) => `mkdir -p ${dir} && exec busybox httpd -f -p ${port} -h ${dir}`;

/** The body at url, or null when nothing answers within a second. */
export async function get(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return await res.text();
  } catch {
    return null;
  }
}

/** Processes on a host whose command line contains `marker` (its own ps, from its pid namespace). */
export function processesWith(host: { run(cmd: string): { out: string } }, marker: string): number[] {
  return host
    .run("ps -eo pid=,args=")
    .out.split("\n")
    .map((l) => l.trim())
    .filter((l) => l.includes(marker) && !l.includes("ps -eo"))
    .map((l) => Number(l.split(/\s+/)[0]));
}
