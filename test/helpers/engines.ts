// Real container engines for tests and benchmarks: podman's Docker-compatible API service and Debian's dockerd,
// each on its own unix socket with its own private dirs, an image built locally from busybox-static (no
// registry is reachable), and a teardown that leaves the machine as it was: daemon stopped by its PID, mounts
// under its dirs unmounted, dirs removed, and the bridges, iptables rules and chains, cgroups and global files
// it made deleted (only those that did not exist before it started, so a machine's own engine is never touched).
//
// Plain TS (no bun:test import): test files and scripts/bench.ts both import it. As a script,
// `bun test/helpers/engines.ts cleanup` tears down every engine whose owning process is gone (CI runs it after
// the tests, for a test run that crashed before its stop()).
//
// Every engine records itself in STATE_ROOT/<kind>-<ownerpid>-<n>/: `pid` (daemon pid and start ticks),
// `record.json` (owner, the host's links/iptables/global paths before it started, what it is known to have made).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ageMs, allPids, alive, bootId, namesIn, type Proc, procOf, readlinkSafe, readRecordJson, rebooted, recordFile, run, same, signal, statFields, statSafe, tail, ticksOf, waitUntil, writeRecord } from "./records.ts";

export type EngineKind = "podman" | "docker";
export const ENGINE_KINDS: EngineKind[] = ["podman", "docker"];
export const TEST_IMAGE = "localhost/svbox:1";
/** The Engine API version the helper speaks (dockerd 20.10 serves at most 1.41; podman takes any). */
export const API_VERSION = "v1.41";
/**
 * Where each engine's private dirs and records live (well known: CI's cleanup reads it). SV_TEST_ENGINES_ROOT
 * moves it, for a run in its own namespaces that must not judge (or be judged by) the host's engines.
 */
export const STATE_ROOT = process.env.SV_TEST_ENGINES_ROOT || "/tmp/sv-test-engines";

export interface Engine {
  kind: EngineKind;
  /** absolute path of the unix socket */
  socket: string;
  /** "unix://" + socket, for DOCKER_HOST / sv.yml docker.host */
  host: string;
  /** the daemon's pid (podman system service / dockerd) */
  pid: number;
  /** the engine's private dir (under STATE_ROOT) */
  dir: string;
  /** raw Engine API call, e.g. api("GET", "/containers/json?all=1") -> parsed JSON (throws with status+body on non-2xx) */
  api(method: string, path: string, body?: unknown): Promise<any>;
  /** ids of containers/volumes/networks carrying label `key=value` (or just `key`) */
  leftovers(label: string): Promise<{ containers: string[]; volumes: string[]; networks: string[] }>;
  /** the host bridges and subnets of its networks right now (its default network's included) */
  footprint(): Promise<{ bridges: string[]; subnets: string[] }>;
  /** stop the daemon by its PID, wait for it, remove its dirs, purge bridges/iptables/netns mounts it left */
  stop(): Promise<void>;
}

/** The host's network state that engines change: link names and iptables/ip6tables rules and chains. */
export interface NetSnapshot {
  links: string[];
  /** "iptables filter" -> `iptables -t filter -S` lines */
  rules: Record<string, string[]>;
}

// ---------------------------------------------------------------------------------------------------------
// small helpers (those for processes, waits and the record file are records.ts's, shared with hosts.ts)

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

// ---------------------------------------------------------------------------------------------------------
// host network snapshots and purges

const IPT_TABLES = ["filter", "nat", "mangle", "raw"];
const IPT_BINS = ["iptables", "ip6tables"];

/** Link names (`ip -o link`, without @peer) and every iptables/ip6tables rule and chain, per table. */
export function netSnapshot(): NetSnapshot {
  const links = run(["ip", "-o", "link"])
    .out.split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0])
    .filter((n): n is string => !!n)
    .sort();
  const rules: Record<string, string[]> = {};
  for (const bin of IPT_BINS)
    for (const table of IPT_TABLES) {
      const r = run([bin, "-w", "-t", table, "-S"]);
      if (r.code === 0) rules[`${bin} ${table}`] = r.out.split("\n").filter(Boolean);
    }
  return { links, rules };
}

/** What changed from `before` to `after`: links and rules added or removed. Empty lists when nothing did. */
export function netDiff(before: NetSnapshot, after: NetSnapshot): { linksAdded: string[]; linksRemoved: string[]; rulesAdded: string[]; rulesRemoved: string[] } {
  const minus = (a: string[], b: string[]) => {
    const s = new Set(b);
    return a.filter((x) => !s.has(x));
  };
  const flat = (s: NetSnapshot) => Object.entries(s.rules).flatMap(([k, lines]) => lines.map((l) => `${k}: ${l}`));
  return { linksAdded: minus(after.links, before.links), linksRemoved: minus(before.links, after.links), rulesAdded: minus(flat(after), flat(before)), rulesRemoved: minus(flat(before), flat(after)) };
}

/** Chains each kind creates (their names are fixed by the engine). */
const KIND_CHAINS: Record<EngineKind, RegExp> = { docker: /^DOCKER/, podman: /^(NETAVARK|CNI-)/ };
/** Bridges each kind may create, for when the daemon cannot be asked which (it crashed). */
const KIND_BRIDGES: Record<EngineKind, RegExp> = { docker: /^(br-[0-9a-f]{12}|docker0|docker_gwbridge)$/, podman: /^(podman\d+|cni-podman\d+)$/ };

/** A regex source matching addresses inside `cidr` as text (prefixes shorter than /16 are not attributed). */
function subnetRe(cidr: string): string | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (len < 16) return null;
  const full = Math.floor(len / 8);
  let re = octets.slice(0, full).join("\\.");
  if (len % 8 !== 0 && full < 4) {
    const span = 2 ** (8 - (len % 8));
    const start = octets[full]! - (octets[full]! % span);
    re += `\\.(${Array.from({ length: span }, (_, i) => start + i).join("|")})`;
  }
  return `(^|[^0-9.])${re}[./]`;
}

/**
 * Delete the links and iptables rules/chains an engine made: only what is absent from `before`, and of that only
 * links named in `bridges` (or matching the kind's bridge names when `byPattern`), rules naming one of those
 * links, an address in `subnets` or a new chain of the kind, and new chains of the kind. With `shared` (another
 * engine of the kind still runs and uses the kind's chains), only the rules naming its own links and subnets.
 */
function purgeNet(kind: EngineKind, before: NetSnapshot, bridges: string[], subnets: string[], byPattern: boolean, shared: boolean): void {
  const now = netSnapshot();
  const beforeLinks = new Set(before.links);
  const links = now.links.filter((l) => !beforeLinks.has(l) && (bridges.includes(l) || (byPattern && !shared && KIND_BRIDGES[kind].test(l))));
  for (const link of links) run(["ip", "link", "del", link]);

  const script: string[] = [];
  const chainScript: string[] = [];
  for (const [key, lines] of Object.entries(now.rules)) {
    const old = new Set(before.rules[key] ?? []);
    const [bin, table] = key.split(" ") as [string, string];
    const newChains = lines
      .filter((l) => l.startsWith("-N ") && !old.has(l))
      .map((l) => l.slice(3).trim())
      .filter((c) => !shared && KIND_CHAINS[kind].test(c));
    const words = [...links, ...bridges, ...newChains].map((w) => `(^|[\\s"!])${escapeRe(w)}($|[\\s"])`);
    const nets = subnets.map(subnetRe).filter((s): s is string => !!s);
    if (words.length + nets.length === 0) continue;
    const re = new RegExp([...words, ...nets].join("|"));
    for (const line of lines) if (line.startsWith("-A ") && !old.has(line) && re.test(line)) script.push(`${bin} -w -t ${table} -D ${line.slice(3)} 2>/dev/null || true`);
    for (const chain of newChains) chainScript.push(`${bin} -w -t ${table} -F ${chain} 2>/dev/null || true`);
    for (const chain of newChains) chainScript.push(`${bin} -w -t ${table} -X ${chain} 2>/dev/null || true`);
  }
  if (script.length + chainScript.length > 0) run(["bash", "-s"], { stdin: [...script, ...chainScript].join("\n") + "\n" });
}

// ---------------------------------------------------------------------------------------------------------
// global paths each kind writes outside its own dirs (removed only when they did not exist before it started)

type GlobalHow = "file" | "tree" | "emptydir" | "cgroup";
const CGROUP_ROOT = "/sys/fs/cgroup";

function cgroupDirs(name: string): string[] {
  let ctrls: string[] = [];
  try {
    ctrls = readdirSync(CGROUP_ROOT);
  } catch {}
  const dirs = ctrls.map((c) => join(CGROUP_ROOT, c, name));
  // a pure v2 mount has the groups right under the root
  return [...dirs, join(CGROUP_ROOT, name)];
}

function globalsOf(kind: EngineKind): { path: string; how: GlobalHow }[] {
  if (kind === "podman")
    return [
      { path: "/dev/shm/libpod_lock", how: "file" },
      { path: "/run/containers/networks", how: "tree" },
      { path: "/run/containers", how: "emptydir" },
      { path: "/run/runc", how: "emptydir" },
      { path: "/run/netns", how: "emptydir" },
      ...cgroupDirs("libpod_parent").map((path) => ({ path, how: "cgroup" as const })),
    ];
  return [
    { path: "/etc/docker/key.json", how: "file" },
    { path: "/etc/docker", how: "emptydir" },
    { path: "/run/docker/plugins", how: "emptydir" },
    { path: "/run/docker", how: "emptydir" },
    { path: "/run/containerd/s", how: "emptydir" },
    { path: "/run/containerd", how: "emptydir" },
  ];
}

const exists = (p: string) => statSafe(p) !== null;

function removeCgroup(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) removeCgroup(join(dir, e));
  run(["rmdir", dir]);
}

/** Does the cgroup `dir` (with its children) hold no process? */
function cgroupEmpty(dir: string): boolean {
  try {
    if (readFileSync(join(dir, "cgroup.procs"), "utf8").trim() !== "") return false;
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .every((e) => cgroupEmpty(join(dir, e.name)));
  } catch {
    return true;
  }
}

/** Remove a cgroup tree once the processes just killed in it are gone (a busy cgroup cannot be removed). */
async function removeCgroupTree(dir: string): Promise<void> {
  if (!exists(dir)) return;
  await waitUntil(() => cgroupEmpty(dir), 5_000);
  removeCgroup(dir);
}

async function removeGlobal(path: string, how: GlobalHow): Promise<void> {
  if (!exists(path)) return;
  if (how === "file") rmSync(path, { force: true });
  else if (how === "tree") rmSync(path, { recursive: true, force: true });
  else if (how === "cgroup") await removeCgroupTree(path);
  else run(["rmdir", path]);
}

// ---------------------------------------------------------------------------------------------------------
// the record each engine keeps, and the teardown shared by stop() and the crash cleanup

interface Record_ {
  kind: EngineKind;
  dir: string;
  owner: Proc;
  /** the owner's pid namespace and boot: pids in a record are only meaningful from the same ones */
  where: string;
  daemon?: Proc;
  before: NetSnapshot;
  /**
   * The host as it was before the first of the engines of this kind that ran together with this one started
   * (its own `before` when it started alone): what the last of them to stop compares against, so the kind's
   * shared chains go when the last one does.
   */
  base: NetSnapshot;
  /** global paths (globalsOf) that did not exist before the engine started: removable when it is done */
  newGlobals: { path: string; how: GlobalHow }[];
  /** links and subnets it is known to have made (its own bridge, then whatever its networks had at stop) */
  bridges: string[];
  subnets: string[];
  cgroupParent?: string;
}

/** This process's pid namespace and boot, as "pid:[INODE] BOOT-ID". */
function here(): string {
  return `${readlinkSafe("/proc/self/ns/pid") ?? ""} ${bootId()}`;
}

/** Is STATE_ROOT shared with processes of other pid namespaces (its records say so)? Then pids in names are not ours to judge. */
function sameNsElsewhere(): boolean {
  return namesIn(STATE_ROOT).some((n) => {
    const r = readRecord(join(STATE_ROOT, n));
    return r !== null && r.where !== here() && !rebooted(r.where);
  });
}

const readRecord = (dir: string): Record_ | null => {
  const r = readRecordJson<Record_>(dir);
  if (!r?.kind || !r.dir || !r.owner || !r.before) return null;
  // records from before `where` and `base` existed: written in this namespace, alone
  return { newGlobals: [], bridges: [], subnets: [], ...r, where: r.where ?? here(), base: r.base ?? r.before } as Record_;
};

/** The records of other engines (any process) whose daemon still runs. */
function othersLive(dir: string): Record_[] {
  const found: Record_[] = [];
  for (const n of namesIn(STATE_ROOT)) {
    const d = join(STATE_ROOT, n);
    if (d === dir) continue;
    const r = readRecord(d);
    // a record from another pid namespace (or an unreadable one) cannot be judged from here: count it as live
    if (r && (r.where !== here() || same(r.daemon))) found.push(r);
  }
  return found;
}

/**
 * Does another engine of the engine's kind run beside it (another recorded one, or a daemon of the kind nobody
 * recorded)? Then its stop() leaves the kind's shared iptables chains and global files to the last one.
 */
export function sharesHost(engine: Pick<Engine, "kind" | "dir">): boolean {
  return otherLive(engine.kind, engine.dir);
}

/**
 * Does anything else on this host change links and iptables while `engines` run: another recorded engine (of any
 * kind, any process), or a podman or dockerd nobody recorded? Then a before/after comparison of the whole host
 * cannot be pinned on `engines`.
 */
export function othersOnHost(engines: Pick<Engine, "dir">[]): boolean {
  const mine = new Set(engines.map((e) => e.dir));
  return othersLive("").some((r) => !mine.has(r.dir)) || ENGINE_KINDS.some((k) => foreignDaemon(k));
}

/** Daemons of each kind, by process name: any of them running, not ours, shares the kind's chains and files. */
const KIND_DAEMONS: Record<EngineKind, string[]> = { podman: ["podman", "conmon"], docker: ["dockerd", "containerd"] };

/** A process of the kind's daemons that runs outside every recorded engine (a machine's own, someone's by hand). */
function foreignDaemon(kind: EngineKind): boolean {
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    let comm = "";
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (!KIND_DAEMONS[kind].includes(comm) || !alive(pid)) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    // ours: a recorded daemon or one of its helpers, which all name their engine's dir
    if (!cmdline.includes(STATE_ROOT + "/")) return true;
  }
  return false;
}

/**
 * Another engine of `kind` (other than `dir`) whose daemon still runs, or a daemon of the kind that no record
 * knows: the kind's shared chains and global paths must stay.
 */
const otherLive = (kind: EngineKind, dir: string) => othersLive(dir).some((r) => r.kind === kind) || foreignDaemon(kind);

/** Processes whose command line names a path under `dir`, or in the session the daemon led. */
function processesOf(dir: string, daemon: Proc | undefined): number[] {
  const found: number[] = [];
  const sid = daemon && (ticksOf(daemon.pid) === null || ticksOf(daemon.pid) === daemon.ticks) ? daemon.pid : null;
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const f = statFields(pid);
    if (!f || f[0] === "Z") continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const inSession = sid !== null && Number(f[3]) === sid && daemon!.ticks !== null && Number(f[19]) >= daemon!.ticks;
    if (inSession || cmdline.split("\0").some((a) => a.startsWith(dir + "/") || a.includes("=" + dir + "/"))) found.push(pid);
  }
  return found;
}

/** aardvark-dns processes started for the podman engine in `dir` (CONTAINERS_CONF under it). */
function aardvarksOf(dir: string): number[] {
  const found: number[] = [];
  for (const pid of allPids()) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "aardvark-dns") continue;
      if (readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").some((kv) => kv.startsWith(`CONTAINERS_CONF=${dir}/`))) found.push(pid);
    } catch {}
  }
  return found;
}

/** Every mount point under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/self/mounts", "utf8");
  } catch {}
  return text
    .split("\n")
    .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + "/")))
    .sort((a, b) => b.length - a.length);
}

function unmountUnder(dir: string): void {
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) if (run(["umount", m]).code !== 0) run(["umount", "-l", m]);
  }
}

/** The networks podman's netavark keeps in its config dir (the default one included): bridge names and subnets. */
function podmanNetworks(dir: string): { names: string[]; bridges: string[]; subnets: string[] } {
  const names: string[] = [];
  const bridges: string[] = [];
  const subnets: string[] = [];
  const netDir = join(dir, "net");
  let files: string[] = [];
  try {
    files = readdirSync(netDir).filter((f) => f.endsWith(".json"));
  } catch {}
  for (const f of files) {
    try {
      const n = JSON.parse(readFileSync(join(netDir, f), "utf8")) as { name?: string; network_interface?: string; subnets?: { subnet?: string }[] };
      if (n.name) names.push(n.name);
      if (n.network_interface) bridges.push(n.network_interface);
      for (const s of n.subnets ?? []) if (s.subnet) subnets.push(s.subnet);
    } catch {}
  }
  return { names, bridges, subnets };
}

/** The /run/netns entries podman's state db names (its containers' network namespaces). */
function podmanNetns(dir: string): string[] {
  try {
    const db = readFileSync(join(dir, "root/libpod/bolt_state.db")).toString("latin1");
    return [...new Set(db.match(/\/run\/netns\/netns-[0-9a-f-]{36}/g) ?? [])];
  } catch {
    return [];
  }
}

/** The ids of the containers in a podman engine's store. */
function containerIds(r: Record_): string[] {
  try {
    return readdirSync(join(r.dir, "root/overlay-containers")).filter((id) => /^[0-9a-f]{64}$/.test(id));
  } catch {
    return [];
  }
}

/** Kill what is left of a container runtime's containers: runc state of ids the engine's dirs name. */
function killContainers(r: Record_): void {
  if (r.kind === "docker") {
    const root = join(r.dir, "exec/runtime-runc/moby");
    if (!existsSync(root)) return;
    for (const id of readdirSync(root)) {
      run(["runc", "--root", root, "kill", id, "KILL"]);
      run(["runc", "--root", root, "delete", "-f", id]);
    }
  } else {
    for (const id of containerIds(r)) {
      if (!existsSync(join("/run/runc", id))) continue;
      run(["runc", "kill", id, "KILL"]);
      run(["runc", "delete", "-f", id]);
    }
  }
}

/** Stop the daemon (by its recorded pid, only while it is the same process) and remove everything it made. */
async function teardown(r: Record_, known: { bridges: string[]; subnets: string[] } | null): Promise<void> {
  const daemon = r.daemon;
  if (daemon && same(daemon)) {
    signal(daemon.pid, "SIGTERM");
    if (!(await waitUntil(() => !alive(daemon.pid), 15_000))) {
      signal(daemon.pid, "SIGKILL");
      await waitUntil(() => !alive(daemon.pid), 5_000);
    }
  }
  // conmon, containerd, shims, docker-proxy: anything naming our dirs or in the daemon's session
  killContainers(r);
  const rest = processesOf(r.dir, daemon);
  for (const pid of rest) signal(pid, "SIGKILL");
  await waitUntil(() => rest.every((p) => !alive(p)), 5_000);

  const shared = otherLive(r.kind, r.dir);
  if (r.kind === "podman") {
    // aardvark-dns, podman's DNS server (one per host), outlives the service when containers were not removed;
    // its config dir has a file per network. Ours go; the server too when no other podman is left to use it.
    const aardvark = "/run/containers/networks/aardvark-dns";
    for (const name of podmanNetworks(r.dir).names) if (name !== "podman") rmSync(join(aardvark, name), { force: true });
    if (!shared)
      try {
        const pid = Number(readFileSync(join(aardvark, "aardvark.pid"), "utf8").trim());
        if (Number.isSafeInteger(pid) && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "aardvark-dns") {
          signal(pid, "SIGKILL");
          await waitUntil(() => !alive(pid), 5_000);
        }
      } catch {}
  }
  if (r.kind === "podman") {
    // netns of containers that were never torn down: podman names them in its state db
    for (const ns of podmanNetns(r.dir)) {
      if (!exists(ns)) continue;
      if (run(["umount", ns]).code !== 0) run(["umount", "-l", ns]);
      try {
        rmSync(ns, { force: true });
      } catch {}
    }
  }

  unmountUnder(r.dir);

  const fromDir = r.kind === "podman" ? podmanNetworks(r.dir) : { bridges: [], subnets: [] };
  const bridges = [...new Set([...r.bridges, ...(known?.bridges ?? []), ...fromDir.bridges])];
  const subnets = [...new Set([...r.subnets, ...(known?.subnets ?? []), ...fromDir.subnets])];
  // Without the daemon's own list of networks (it crashed), fall back to the kind's bridge names.
  purgeNet(r.kind, shared ? r.before : r.base, bridges, subnets, known === null && r.kind === "docker", shared);

  // cgroups: dockerd's are all under our --cgroup-parent; podman's are libpod_parent/libpod-ID per container
  if (r.cgroupParent) for (const d of cgroupDirs(r.cgroupParent)) await removeCgroupTree(d);
  if (r.kind === "podman") for (const id of containerIds(r)) for (const d of cgroupDirs(`libpod_parent/libpod-${id}`)) await removeCgroupTree(d);
  if (!shared) for (const g of r.newGlobals) await removeGlobal(g.path, g.how);

  // Last, since podman's container cleanup (run by conmon as a container ends) may start one late: every
  // aardvark-dns started for this engine (its environment names our containers.conf; the pidfile names only
  // the newest) is ours, and goes.
  if (r.kind === "podman") {
    const ours = aardvarksOf(r.dir);
    for (const pid of ours) signal(pid, "SIGKILL");
    await waitUntil(() => ours.every((p) => !alive(p)), 5_000);
  }

  rmSync(r.dir, { recursive: true, force: true });
  if (existsSync(r.dir)) {
    unmountUnder(r.dir);
    rmSync(r.dir, { recursive: true, force: true });
  }
}

/**
 * Tear down every recorded engine whose owning process is gone (a test run that died before stop()).
 * Returns the dirs it cleaned. Engines of live processes (another test file, a benchmark) are left alone.
 */
export async function cleanupStale(): Promise<string[]> {
  const cleaned: string[] = [];
  for (const n of namesIn(STATE_ROOT)) {
    const dir = join(STATE_ROOT, n);
    const image = /^image-(\d+)-(\d+)$/.exec(n);
    if (image) {
      // a process's cached test image: gone with the process (another pid namespace's is not judged here)
      if (!same({ pid: Number(image[1]), ticks: Number(image[2]) }) && !sameNsElsewhere()) rmSync(dir, { recursive: true, force: true });
      continue;
    }
    const r = readRecord(dir);
    if (!r) {
      // a record never written: the engine did not get as far as starting a daemon
      if (ageMs(dir) > 60_000 && !existsSync(recordFile(dir))) {
        unmountUnder(dir);
        rmSync(dir, { recursive: true, force: true });
        cleaned.push(dir);
      }
      continue;
    }
    // pids recorded in another pid namespace mean nothing here: leave those to a cleanup run there
    if (r.where !== here() && !rebooted(r.where)) continue;
    if (r.where === here() && same(r.owner)) continue;
    await teardown(r, null);
    cleaned.push(dir);
  }
  return cleaned;
}

// ---------------------------------------------------------------------------------------------------------
// the test image: a busybox-static rootfs, built once per process

let rootfsTar: string | null = null;

/** Does an ELF64 executable name a program interpreter (PT_INTERP), i.e. need a libc in the image? */
function isDynamicElf(path: string): boolean {
  const b = readFileSync(path);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(b.readBigUInt64LE(0x20));
  const size = b.readUInt16LE(0x36);
  const count = b.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) if (b.readUInt32LE(phoff + i * size) === 3) return true;
  return false;
}

/** A tar of a tiny rootfs: static busybox with every applet linked in /bin, /www/index.html = "hello". */
export function testImageTar(): string {
  if (rootfsTar && existsSync(rootfsTar)) return rootfsTar;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) throw new Error("no /bin/busybox: install busybox-static");
  if (isDynamicElf(busybox)) throw new Error(`${busybox} is dynamically linked (Debian's busybox): the image needs busybox-static`);
  // beside the engines, named by this process: cleanupStale() removes it once the process is gone (bun test
  // runs no exit handlers, so nothing removes it on the way out)
  const work = join(STATE_ROOT, `image-${process.pid}-${ticksOf(process.pid)}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const root = join(work, "rootfs");
  for (const d of ["bin", "www", "etc", "tmp", "root", "proc", "sys", "dev"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "bin/busybox"), readFileSync(busybox), { mode: 0o755 });
  const applets = run([busybox, "--list"]).out.split("\n").filter((a) => a && a !== "busybox" && !a.includes("/"));
  if (applets.length < 50) throw new Error(`busybox --list gave ${applets.length} applets`);
  for (const a of applets) symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(join(root, "www/index.html"), "hello\n");
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  chmodSync(join(root, "tmp"), 0o1777);
  const tar = join(work, "rootfs.tar");
  const r = run(["tar", "--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."]);
  if (r.code !== 0) throw new Error(`tar: ${r.err}`);
  rmSync(root, { recursive: true, force: true });
  rootfsTar = tar;
  return tar;
}

/** Import TEST_IMAGE into an engine from the rootfs tar (POST /images/create?fromSrc=-, then tag it). */
async function importImage(api: Engine["api"]): Promise<void> {
  const [repo, tag] = TEST_IMAGE.split(":") as [string, string];
  const tar = new Uint8Array(readFileSync(testImageTar()));
  const answer = await api("POST", `/images/create?fromSrc=-&repo=${encodeURIComponent(repo)}&tag=${tag}`, tar);
  // docker: {"status":"sha256:…"}; podman: {"status":"sha256:…","id":"sha256:…"} (and it ignores `tag`)
  const last = Array.isArray(answer) ? answer[answer.length - 1] : answer;
  const id: string | undefined = last?.id || (typeof last?.status === "string" && last.status.startsWith("sha256:") ? last.status : undefined);
  if (!id) throw new Error(`image import answered ${JSON.stringify(answer)}`);
  await api("POST", `/images/${id}/tag?repo=${encodeURIComponent(repo)}&tag=${tag}`);
  const images: { RepoTags?: string[] | null }[] = await api("GET", "/images/json");
  if (!images.some((i) => i.RepoTags?.includes(TEST_IMAGE))) throw new Error(`${TEST_IMAGE} missing after import: ${JSON.stringify(images)}`);
}

// ---------------------------------------------------------------------------------------------------------
// the API client

function apiOf(socket: string): Engine["api"] {
  return async (method, path, body) => {
    const init: RequestInit & { unix: string } = { method, unix: socket, signal: AbortSignal.timeout(60_000) };
    if (body instanceof Uint8Array || body instanceof ArrayBuffer || body instanceof Blob) {
      init.body = body as RequestInit["body"];
      init.headers = { "Content-Type": "application/x-tar" };
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    const res = await fetch(`http://localhost/${API_VERSION}${path}`, init);
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path}: ${res.status} ${text.trim()}`);
    if (text.trim() === "") return null;
    try {
      return JSON.parse(text);
    } catch {}
    // a stream of JSON objects, one a line (image import, pull)
    try {
      return text
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l));
    } catch {
      return text;
    }
  };
}

async function ping(socket: string): Promise<boolean> {
  try {
    const res = await fetch("http://localhost/_ping", { unix: socket, signal: AbortSignal.timeout(2_000) } as RequestInit);
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// starting engines

let seq = 0;
const live = new Set<Record_>();
let exitHook = false;

/**
 * IPv4 addresses something listens on for DNS (UDP port 53). An aardvark-dns (podman's DNS server, one per host)
 * whose podman went away without tearing its networks down keeps its gateway addresses bound after the bridge is
 * gone; a new network on that subnet would then get no name resolution.
 */
function dnsListeners(): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/net/udp", "utf8");
  } catch {}
  const found: string[] = [];
  for (const line of text.split("\n").slice(1)) {
    const local = line.trim().split(/\s+/)[1];
    const [hex, port] = local?.split(":") ?? [];
    if (!hex || port !== "0035" || hex.length !== 8) continue;
    const octets = [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
    found.push(`${octets.join(".")}/32`);
  }
  return found;
}

/** Host addresses, routes and DNS listeners, and the subnets other live engines hold: what a new engine must avoid. */
function usedNets(dir: string): string {
  const others = othersLive(dir).flatMap((r) => r.subnets);
  return [run(["ip", "-o", "-4", "addr"]).out, run(["ip", "-4", "route"]).out, ...dnsListeners(), ...others].join("\n");
}

/**
 * The address plan of an engine: its default bridge's subnet and the pool its networks come from. A slot per
 * engine, so engines that run at once (in this process or another) never share a subnet or a bridge:
 * podman: default 10.88.K.0/24, pool 10.(90+K).0.0/16; dockerd: default 172.31.(K+1).0/24, pool 172.30.(16K).0/20.
 */
function addressPlan(kind: EngineKind, dir: string): { bridgeNet: string; pool: string; poolSize: number } {
  const used = usedNets(dir);
  const taken = (prefix: string) => new RegExp(`(^|[^0-9.])${escapeRe(prefix)}`, "m").test(used);
  if (kind === "podman") {
    for (let k = 0; k < 32; k++) if (!taken(`10.88.${k}.`) && !taken(`10.${90 + k}.`)) return { bridgeNet: `10.88.${k}`, pool: `10.${90 + k}.0.0/16`, poolSize: 24 };
  } else {
    for (let k = 0; k < 16; k++) {
      const poolTaken = Array.from({ length: 16 }, (_, i) => `172.30.${16 * k + i}.`).some(taken);
      if (!taken(`172.31.${k + 1}.`) && !poolTaken) return { bridgeNet: `172.31.${k + 1}`, pool: `172.30.${16 * k}.0/20`, poolSize: 24 };
    }
  }
  throw new Error(`no free address range for another ${kind} engine`);
}

function podmanConf(dir: string, pool: string, poolSize: number): string {
  return `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[network]
network_backend = "netavark"
network_config_dir = "${dir}/net"
default_subnet_pools = [{"base" = "${pool}", "size" = ${poolSize}}]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"
volume_path = "${dir}/root/volumes"
`;
}

/** podman's default network ("podman"), written out so its bridge and subnet are this engine's own. */
function podmanDefaultNetwork(bridge: string, bridgeNet: string): string {
  return JSON.stringify(
    {
      name: "podman",
      id: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
      driver: "bridge",
      network_interface: bridge,
      created: new Date().toISOString(),
      subnets: [{ subnet: `${bridgeNet}.0/24`, gateway: `${bridgeNet}.1` }],
      ipv6_enabled: false,
      internal: false,
      dns_enabled: false,
      ipam_options: { driver: "host-local" },
    },
    null,
    2,
  );
}

/**
 * podman names a new network's bridge podmanN, N the first number no network in its own config dir and no host
 * link has; the bridge appears only when a container first joins. Two podman engines (say two test processes)
 * that both create a network before either starts a container so pick the same bridge, and the first to stop
 * tears down the other's network. Each engine renames its networks' bridges to names of its own the moment the
 * config file appears (podman rereads its config dir when the dir changes; a network created with the
 * com.docker.network.bridge.name option keeps the name it asked for).
 */
function ownBridgeNames(netDir: string, prefix: string): { close(): void } {
  let n = 0;
  const rename = (file: string) => {
    const path = join(netDir, file);
    let net: { network_interface?: string };
    try {
      net = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      return; // gone, or not written whole yet: its next event comes
    }
    if (!net.network_interface || !/^podman\d+$/.test(net.network_interface)) return;
    net.network_interface = `${prefix}n${++n}`.slice(0, 15);
    const tmp = join(netDir, `.${file}.sv-tmp`);
    writeFileSync(tmp, JSON.stringify(net, null, 5));
    renameSync(tmp, path);
  };
  const watcher = watch(netDir, (_event, file) => {
    if (typeof file === "string" && file.endsWith(".json")) rename(file);
  });
  watcher.unref();
  return watcher;
}

/** Start an engine of `kind` on a private socket, with TEST_IMAGE imported. stop() it when done. */
export async function startEngine(kind: EngineKind): Promise<Engine> {
  await cleanupStale();
  mkdirSync(STATE_ROOT, { recursive: true });
  const n = ++seq;
  const dir = join(STATE_ROOT, `${kind}-${process.pid}-${n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, "api.sock");
  const log = join(dir, "daemon.log");

  // Engines of a kind that run together share the kind's chains and global files: the last to stop removes
  // them, judged against the host as it was before the first of them started.
  const peer = othersLive(dir).find((r) => r.kind === kind);
  const before = netSnapshot();
  const plan = addressPlan(kind, dir);
  const bridge = `sv${kind === "podman" ? "p" : "d"}${process.pid.toString(36)}${n.toString(36)}`.slice(0, 15);
  const record: Record_ = {
    kind,
    dir,
    owner: procOf(process.pid),
    where: here(),
    before,
    base: peer?.base ?? before,
    newGlobals: peer?.newGlobals ?? globalsOf(kind).filter((g) => !exists(g.path)),
    bridges: [bridge],
    subnets: [`${plan.bridgeNet}.0/24`, plan.pool],
  };
  writeRecord(record);

  let argv: string[];
  const watchers: { close(): void }[] = [];
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.DOCKER_HOST;
  if (kind === "podman") {
    for (const d of ["root", "run", "tmp", "net"]) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, "containers.conf"), podmanConf(dir, plan.pool, plan.poolSize));
    writeFileSync(join(dir, "net/podman.json"), podmanDefaultNetwork(bridge, plan.bridgeNet));
    watchers.push(ownBridgeNames(join(dir, "net"), bridge));
    writeFileSync(join(dir, "storage.conf"), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/run"\n`);
    env.CONTAINERS_CONF = join(dir, "containers.conf");
    env.CONTAINERS_STORAGE_CONF = join(dir, "storage.conf");
    argv = ["podman", "--root", join(dir, "root"), "--runroot", join(dir, "run"), "system", "service", "--time=0", `unix://${socket}`];
  } else {
    // Our own default bridge (dockerd -b), so a machine's docker0 is never shared or touched.
    record.cgroupParent = `sv-test-${bridge}`;
    writeRecord(record);
    const mk = [
      ["ip", "link", "add", "name", bridge, "type", "bridge"],
      ["ip", "addr", "add", `${plan.bridgeNet}.1/24`, "dev", bridge],
      ["ip", "link", "set", bridge, "up"],
    ];
    for (const c of mk) {
      const r = run(c);
      if (r.code !== 0) {
        await teardown(record, { bridges: [], subnets: [] });
        throw new Error(`${c.join(" ")}: ${r.err}`);
      }
    }
    writeFileSync(join(dir, "daemon.json"), "{}\n");
    argv = [
      "dockerd",
      "-H",
      `unix://${socket}`,
      "--data-root",
      join(dir, "data"),
      "--exec-root",
      join(dir, "exec"),
      "--pidfile",
      join(dir, "dockerd.pid"),
      "--config-file",
      join(dir, "daemon.json"),
      "-b",
      bridge,
      "--default-address-pool",
      `base=${plan.pool},size=${plan.poolSize}`,
      "--cgroup-parent",
      `/${record.cgroupParent}`,
      // dockerd removes and re-creates its DOCKER chains when it starts, dropping every rule another dockerd on the
      // host has there (a machine's own, or another test process's): so ours leaves iptables (and ip_forward) alone.
      // Published ports still work (docker-proxy), and so do names and traffic on a network (one bridge).
      // SV_TEST_DOCKERD_IPTABLES=1 gives it its NAT rules back, for a host where it is the only dockerd.
      ...(process.env.SV_TEST_DOCKERD_IPTABLES === "1" ? [] : ["--iptables=false", "--ip-forward=false"]),
    ];
  }

  const t0 = performance.now();
  const logFd = openSync(log, "a");
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(["setsid", ...argv], { stdio: ["ignore", logFd, logFd], env, cwd: dir });
  } finally {
    closeSync(logFd);
  }
  proc.unref();
  record.daemon = procOf(proc.pid);
  writeRecord(record);
  writeFileSync(join(dir, "pid"), `${proc.pid} ${record.daemon.ticks}\n`);
  live.add(record);
  if (!exitHook) {
    exitHook = true;
    // A script that exits without stop(): stop the daemons now; cleanupStale() (next start, or CI) does the rest.
    // (bun test runs no exit handlers: there the next startEngine's or CI's cleanupStale() does it all.)
    process.on("exit", () => {
      for (const r of live) if (same(r.daemon)) signal(r.daemon!.pid, "SIGTERM");
    });
  }

  const api = apiOf(socket);
  let stopped: Promise<void> | null = null;
  const engine: Engine = {
    kind,
    socket,
    host: `unix://${socket}`,
    pid: proc.pid,
    dir,
    api,
    async leftovers(label) {
      const q = encodeURIComponent(JSON.stringify({ label: [label] }));
      const [containers, volumes, networks] = await Promise.all([api("GET", `/containers/json?all=1&filters=${q}`), api("GET", `/volumes?filters=${q}`), api("GET", `/networks?filters=${q}`)]);
      return {
        containers: (containers as { Id: string }[]).map((c) => c.Id),
        volumes: ((volumes?.Volumes ?? []) as { Name: string }[]).map((v) => v.Name),
        networks: (networks as { Id: string }[]).map((n) => n.Id),
      };
    },
    async footprint() {
      const files = kind === "podman" ? podmanNetworks(dir) : { bridges: [], subnets: [] };
      const fromApi = await networksOf(kind, api);
      return { bridges: [...new Set([bridge, ...files.bridges, ...fromApi.bridges])], subnets: [...new Set([...files.subnets, ...fromApi.subnets])] };
    },
    stop() {
      stopped ??= (async () => {
        // podman keeps its networks' bridges and subnets in files the drain removes: note them first
        const files = kind === "podman" ? podmanNetworks(dir) : { bridges: [], subnets: [] };
        const known = await drain(kind, api, socket);
        for (const w of watchers) w.close();
        live.delete(record);
        await teardown(record, known && { bridges: [...files.bridges, ...known.bridges], subnets: [...files.subnets, ...known.subnets] });
      })();
      return stopped;
    },
  };

  const up = await waitUntil(async () => !alive(proc.pid) || (await ping(socket)), 30_000);
  if (!up || !alive(proc.pid)) {
    const why = !alive(proc.pid) ? "exited" : "did not answer /_ping within 30 s";
    const logTail = tail(log, 25);
    await engine.stop();
    throw new Error(`${kind} daemon ${why}; its log ends:\n${logTail}`);
  }
  timings.startMs = performance.now() - t0;
  try {
    const t1 = performance.now();
    await importImage(api);
    timings.importMs = performance.now() - t1;
  } catch (e) {
    const logTail = tail(log, 25);
    await engine.stop();
    throw new Error(`${kind}: importing ${TEST_IMAGE} failed: ${(e as Error).message}\ndaemon log ends:\n${logTail}`);
  }
  return engine;
}

/** How long the last startEngine took: daemon until /_ping answered, and the image import. */
export const timings = { startMs: 0, importMs: 0 };

type ApiNetwork = { Id: string; Name: string; Driver?: string; Options?: Record<string, string> | null; IPAM?: { Config?: { Subnet?: string }[] | null } };

/** The engine's networks, with the host bridges (docker names them; podman's are in its files) and subnets. */
async function networksOf(kind: EngineKind, api: Engine["api"]): Promise<{ networks: ApiNetwork[]; bridges: string[]; subnets: string[] }> {
  const networks: ApiNetwork[] = await api("GET", "/networks");
  const bridges: string[] = [];
  const subnets: string[] = [];
  for (const n of networks) {
    for (const c of n.IPAM?.Config ?? []) if (c.Subnet) subnets.push(c.Subnet);
    const named = n.Options?.["com.docker.network.bridge.name"];
    if (named) bridges.push(named);
    else if (kind === "docker" && n.Driver === "bridge" && n.Name !== "bridge") bridges.push(`br-${n.Id.slice(0, 12)}`);
  }
  return { networks, bridges, subnets };
}

/**
 * Before the daemon is stopped: remove every container (force), then every network and volume, so the engine
 * itself takes down its bridges, rules, netns and container processes; note the bridges and subnets its
 * networks had. Null when the daemon does not answer (then teardown falls back to names and records).
 */
async function drain(kind: EngineKind, api: Engine["api"], socket: string): Promise<{ bridges: string[]; subnets: string[] } | null> {
  if (!(await ping(socket))) return null;
  try {
    const containers: { Id: string }[] = await api("GET", "/containers/json?all=1");
    await Promise.all(containers.map((c) => api("DELETE", `/containers/${c.Id}?force=1&v=1`).catch(() => {})));
    const { networks, bridges, subnets } = await networksOf(kind, api);
    const builtin = new Set(["bridge", "host", "none", "podman"]);
    await Promise.all(networks.filter((n) => !builtin.has(n.Name)).map((n) => api("DELETE", `/networks/${n.Id}`).catch(() => {})));
    const volumes = await api("GET", "/volumes");
    await Promise.all(((volumes?.Volumes ?? []) as { Name: string }[]).map((v) => api("DELETE", `/volumes/${encodeURIComponent(v.Name)}?force=1`).catch(() => {})));
    return { bridges, subnets };
  } catch {
    return null;
  }
}

if (import.meta.main) {
  const cmd = process.argv[2];
  if (cmd === "cleanup") {
    const cleaned = await cleanupStale();
    for (const d of cleaned) console.error(`engines: cleaned up ${d}`);
    try {
      if (readdirSync(STATE_ROOT).length === 0) rmSync(STATE_ROOT, { recursive: true, force: true });
    } catch {}
  } else {
    console.error("usage: bun test/helpers/engines.ts cleanup");
    process.exit(2);
  }
}
