// Real remote "hosts" for the ssh backend's tests: each one a real OpenSSH sshd in its own network, PID, mount and
// UTS namespaces, on a bridge of the rig's own, with a private /root and /opt, reached from here by the system
// ssh client with a key of the rig's own. Traffic goes only to addresses of the namespaces a rig creates.
//
// Plain TS (no bun:test import): test files and scripts import it. As a script, `bun test/helpers/hosts.ts cleanup`
// tears down every rig whose owning process is gone (CI runs it after the tests, for a test run that crashed before
// its stop()); `cleanup --all` tears down every recorded rig, live owners' too (for CI after the tests; not while
// another test run on the machine may be using one).
//
// Every rig claims an id K (1..254) by mkdir of STATE_ROOT/rig-K/ (atomic, so two test processes never share one)
// and with it the subnet 10.231.K.0/24 and the names svhbK (bridge) and svhK-I (netns and host-side veth of host I).
// Its `record.json` says who owns it (pid and start ticks) and what it started (pids with start ticks), written
// before each thing is made, so a crash at any point leaves a record that names everything left behind.
//
// A host's PID 1 is tini (Debian's tiny init) keeping `sleep infinity` as its one child. sshd cannot be PID 1: a
// host must keep its processes across stopSshd()/startSshd(), and a pid namespace ends when its init does; a shell
// as PID 1 would not reap the orphans reparented to it (a detached process of a finished ssh session). tini reaps
// every child as soon as it exits. sshd runs as a daemon beside the sleep (started by nsenter, so its daemon
// process is reparented to tini), and can be killed and started again without touching anything else in the host.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ageMs, allPids, alive, bootId, namesIn, type Proc, procOf, readlinkSafe, readRecordJson, rebooted, type Result, run, same, signal, statFields, tail, waitUntil, waitUntilSync, writeRecord } from "./records.ts";

/** Where rigs keep their dirs and records (well known: CI's cleanup reads it). SV_TEST_HOSTS_ROOT moves it. */
export const STATE_ROOT = process.env.SV_TEST_HOSTS_ROOT || "/tmp/sv-test-hosts";
const NET = "10.231";
const SSHD = "/usr/sbin/sshd";
const TINI = "/usr/bin/tini";
/** The environment of everything started in a host: nothing of the test process's leaks in. */
const HOST_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", USER: "root", LOGNAME: "root", SHELL: "/bin/sh", LANG: "C.UTF-8" };

export interface TestHost {
  /** "h1", "h2", ...: the sv host name tests use, and the host's hostname */
  name: string;
  /** its network namespace */
  ns: string;
  /** its IPv4 address on the rig's bridge */
  address: string;
  /** sshd's port */
  port: number;
  /** the directory here that is /root inside the host (so ~ is per host) */
  home: string;
  /** the directory here that is /opt inside the host */
  opt: string;
  /** "ADDRESS ssh-ed25519 AAAA...": a known_hosts line for this host */
  hostKeyLine: string;
  /**
   * Run a shell command inside the host (its net, pid, mount and uts namespaces, via nsenter on its PID 1), as root in
   * /root with a clean environment and stdin from /dev/null; never throws (code 124 on timeout, 255 when the host
   * is gone).
   */
  run(cmd: string, timeoutMs?: number): { code: number; out: string; err: string };
  /** Set the host's veth down: its packets are dropped, so ssh fails by its ConnectTimeout (not refused). */
  unplug(): void;
  /** Set it up again; returns (synchronously) only once its sshd accepts a key login (at once when sshd is stopped). */
  plug(): void;
  /** Kill sshd (the listener and every connection's process, so open connections and masters drop too); the host's other processes stay. */
  stopSshd(): void;
  /** Start sshd again (same host key); resolves when it accepts a key login. */
  startSshd(): Promise<void>;
}

export interface HostRig {
  hosts: TestHost[];
  /** private key (0600) authorised for root on every host */
  keyFile: string;
  /** a file holding every host's hostKeyLine */
  knownHosts: string;
  /** the rig's private dir (its record, keys, configs, logs, the hosts' homes) */
  dir: string;
  /**
   * A one-off ssh argv prefix: ["ssh", "-F", "/dev/null", "-i", key, "-o", "BatchMode=yes", ...] with strict host
   * key checking against knownHosts; append options, "root@ADDRESS" and a command. It sets no ConnectTimeout (ssh
   * keeps the first value an option is given, so a test could not lower it): add `-o ConnectTimeout=N`.
   */
  ssh: string[];
  /** Everything gone: the hosts' processes, sshds, veths, netns, bridge, dirs. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// small process and file helpers

async function runAsync(argv: string[], env?: Record<string, string>): Promise<Result> {
  try {
    const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  } catch (e) {
    return { code: 127, out: "", err: (e as Error).message };
  }
}

/** Fail loudly: a rig that cannot be built or changed is a broken test machine, not a test result. */
function must(argv: string[], opts: { stdin?: string } = {}): Result {
  const r = run(argv, opts);
  if (r.code !== 0) throw new Error(`hosts: ${argv.join(" ")} exited ${r.code}: ${r.err.trim()}`);
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// the record each rig keeps, and where it is valid

interface HostRecord {
  name: string;
  ns: string;
  veth: string;
  address: string;
  mac: string;
  /** the host's own dir (config, keys, logs, home, opt) */
  dir: string;
  /** `unshare` (the host's PID 1's parent, outside the host) */
  unshare?: Proc;
  /** tini, the host's PID 1 (its pid here) */
  init?: Proc;
  /** "pid:[INODE]" of the host's pid namespace */
  pidns?: string;
  /** the newest sshd listener started (its pid here) */
  sshd?: Proc;
}

interface RigRecord {
  id: number;
  dir: string;
  owner: Proc;
  /** the owner's pid and net namespaces and boot: pids and links in a record mean something only from the same ones */
  where: string;
  bridge: string;
  hosts: HostRecord[];
}

/** This process's pid and net namespaces and boot, as "pid:[I] net:[J] BOOT-ID". */
function here(): string {
  return `${readlinkSafe("/proc/self/ns/pid")} ${readlinkSafe("/proc/self/ns/net")} ${bootId()}`;
}

function readRecord(dir: string): RigRecord | null {
  const r = readRecordJson<RigRecord>(dir);
  return r && r.dir && r.owner && r.bridge && r.where && Array.isArray(r.hosts) ? (r as RigRecord) : null;
}

// ---------------------------------------------------------------------------------------------------------
// claiming an id: a subnet and names nobody else on this machine uses

/** What the machine uses now: addresses, routes, links, netns (so a foreign 10.231.K.0/24 or name is never shared). */
function inUse(): string {
  return [run(["ip", "-o", "-4", "addr"]).out, run(["ip", "-4", "route"]).out, run(["ip", "-o", "link"]).out, run(["ip", "netns", "list"]).out].join("\n");
}

function taken(used: string, id: number): boolean {
  const net = new RegExp(`(^|[^0-9.])${NET.replace(".", "\\.")}\\.${id}\\.`, "m");
  const names = new RegExp(`(^|[\\s:])(svhb${id}|svh${id}-\\d+)($|[\\s:@])`, "m");
  return net.test(used) || names.test(used);
}

/** mkdir STATE_ROOT/rig-K for the first K that is free: the mkdir is the claim (it fails if another process won). */
function claim(): { id: number; dir: string } {
  mkdirSync(STATE_ROOT, { recursive: true });
  const used = inUse();
  for (let id = 1; id <= 254; id++) {
    if (taken(used, id)) continue;
    const dir = join(STATE_ROOT, `rig-${id}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch {
      continue;
    }
    return { id, dir };
  }
  throw new Error(`hosts: no free id under ${STATE_ROOT} (254 rigs, or 10.231.0.0/16 in use)`);
}

// ---------------------------------------------------------------------------------------------------------
// building a rig

const hex = (n: number) => n.toString(16).padStart(2, "0");

function hostRecord(id: number, dir: string, i: number): HostRecord {
  const name = `h${i}`;
  return { name, ns: `svh${id}-${i}`, veth: `svh${id}-${i}`, address: `${NET}.${id}.${10 + i}`, mac: `02:73:76:${hex(id)}:${hex(i)}:01`, dir: join(dir, name) };
}

async function keygen(file: string, comment: string): Promise<void> {
  const r = await runAsync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  if (r.code !== 0) throw new Error(`hosts: ssh-keygen ${file}: ${r.err.trim()}`);
}

function sshdConfig(rig: RigRecord, h: HostRecord): string {
  return [
    "ListenAddress 0.0.0.0:22",
    `HostKey ${h.dir}/hostkey`,
    `PidFile ${h.dir}/sshd.pid`,
    `AuthorizedKeysFile ${rig.dir}/authorized_keys`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "StrictModes no",
    "UsePAM no",
    "SetEnv SHLVL=1",
    // sv multiplexes many sessions over one master, and tests open connections in bursts
    "MaxStartups 100:30:200",
    "MaxSessions 50",
    "",
  ].join("\n");
}

/**
 * The bridge and every host's netns and veth, in one `ip -batch` here and one per host inside its netns. Each host's
 * address has a permanent neighbour entry on the bridge, so an unplugged host's packets are dropped (a connect
 * times out) instead of ARP failing into "No route to host" after 3 s.
 */
async function netUp(rig: RigRecord): Promise<void> {
  const here = [`link add ${rig.bridge} type bridge`, `addr add ${NET}.${rig.id}.1/24 dev ${rig.bridge}`, `link set ${rig.bridge} up`];
  for (const h of rig.hosts)
    here.push(
      `netns add ${h.ns}`,
      `link add ${h.veth} type veth peer name eth0 netns ${h.ns} address ${h.mac}`,
      `link set ${h.veth} master ${rig.bridge} up`,
      `neigh replace ${h.address} lladdr ${h.mac} dev ${rig.bridge} nud permanent`,
    );
  must(["ip", "-batch", "-"], { stdin: here.join("\n") + "\n" });
  await Promise.all(
    rig.hosts.map(async (h) => {
      const inside = [`addr add ${h.address}/24 dev eth0`, "link set eth0 up", "link set lo up"].join("\n") + "\n";
      const p = Bun.spawn(["ip", "-n", h.ns, "-batch", "-"], { stdin: Buffer.from(inside), stdout: "ignore", stderr: "pipe" });
      const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      if (code !== 0) throw new Error(`hosts: network of ${h.name} (${h.ns}): ${err.trim()}`);
    }),
  );
}

/**
 * The host's init: `unshare` (here) forks the host's PID 1, a shell that names the host, bind-mounts its /root and
 * /opt (private propagation: nothing shows outside) and execs tini with `sleep infinity` as its child.
 */
function spawnInit(h: HostRecord): Proc {
  const script = 'hostname "$1" && mount --bind "$2" /root && mount --bind "$3" /opt && exec "$4" -- sleep infinity';
  const argv = ["ip", "netns", "exec", h.ns, "unshare", "--mount", "--pid", "--fork", "--mount-proc", "--uts", "--propagation", "private"];
  const logFd = openSync(join(h.dir, "init.log"), "a");
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    // its own session: a ^C in the test's terminal does not reach it (stop() or cleanup does)
    proc = Bun.spawn(["setsid", ...argv, "sh", "-c", script, "sh", h.name, join(h.dir, "home"), join(h.dir, "opt"), TINI], { stdio: ["ignore", logFd, logFd], env: HOST_ENV });
  } finally {
    closeSync(logFd);
  }
  proc.unref();
  return procOf(proc.pid);
}

/** The child of `parent` (started after it), or null. */
function childOf(parent: Proc): number | null {
  for (const pid of allPids()) {
    const f = statFields(pid);
    if (f && Number(f[1]) === parent.pid && parent.ticks !== null && Number(f[19]) >= parent.ticks) return pid;
  }
  return null;
}

/** Wait for the host's PID 1 to be tini (its mounts are done then); record it and its pid namespace. */
async function waitInit(rig: RigRecord, h: HostRecord): Promise<void> {
  const up = await waitUntil(() => {
    if (!same(h.unshare)) return true;
    const pid = childOf(h.unshare);
    if (pid === null || readlinkSafe(`/proc/${pid}/exe`) !== TINI) return false;
    h.init = procOf(pid);
    h.pidns = readlinkSafe(`/proc/${pid}/ns/pid`) ?? undefined;
    return true;
  }, 10_000);
  if (!h.init || !h.pidns) throw new Error(`hosts: ${h.name}'s init ${up ? "exited" : "did not start within 10 s"}; its log:\n${tail(join(h.dir, "init.log"))}`);
  writeRecord(rig);
}

/** argv that runs `argv` inside the host: its net, pid, mount and uts namespaces, by its PID 1. */
const inHost = (h: HostRecord, argv: string[]) => ["nsenter", "-t", String(h.init!.pid), "-n", "-p", "-m", "-u", "--wd=/root", "--", ...argv];

/** Processes in the host's pid namespace whose program is sshd (the listener and each connection's). */
function sshdsOf(h: HostRecord): number[] {
  if (!h.pidns) return [];
  return allPids().filter((pid) => readlinkSafe(`/proc/${pid}/ns/pid`) === h.pidns && readlinkSafe(`/proc/${pid}/exe`) === SSHD && alive(pid));
}

/** Start sshd in the host as a daemon (it forks, the daemon is reparented to tini) and record the listener. */
function launchSshd(rig: RigRecord, h: HostRecord): void {
  if (!same(h.init)) throw new Error(`hosts: ${h.name} is not running (its PID 1 is gone)`);
  const r = run(inHost(h, [SSHD, "-f", join(h.dir, "sshd_config"), "-E", join(h.dir, "sshd.log")]), { env: HOST_ENV, timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`hosts: sshd on ${h.name} exited ${r.code}: ${r.err.trim()}\n${tail(join(h.dir, "sshd.log"))}`);
  const listener = sshdsOf(h).find((pid) => Number(statFields(pid)?.[1]) === h.init!.pid);
  if (listener !== undefined) {
    h.sshd = procOf(listener);
    writeRecord(rig);
  }
}

/** A key login that runs `true`: the probe of "sshd accepts". A fast key exchange (it only asks whether sshd answers). */
const probeArgv = (ssh: string[], h: HostRecord) => [...ssh, "-o", "ConnectTimeout=2", "-o", "KexAlgorithms=curve25519-sha256", "-o", "ControlMaster=no", "-o", "ControlPath=none", `root@${h.address}`, "true"];

function notAccepting(h: HostRecord, last: string): Error {
  return new Error(`hosts: sshd on ${h.name} (${h.address}) did not accept a key login within 10 s (last: ${last.trim() || "?"}); its log:\n${tail(join(h.dir, "sshd.log"))}`);
}

async function waitAccepts(ssh: string[], h: HostRecord): Promise<void> {
  let last = "";
  const ok = await waitUntil(async () => {
    const r = await runAsync(probeArgv(ssh, h));
    last = r.err;
    return r.code === 0;
  }, 10_000);
  if (!ok) throw notAccepting(h, last);
}

function waitAcceptsSync(ssh: string[], h: HostRecord): void {
  let last = "";
  const ok = waitUntilSync(() => {
    const r = run(probeArgv(ssh, h), { timeoutMs: 5_000 });
    last = r.err;
    return r.code === 0;
  }, 10_000);
  if (!ok) throw notAccepting(h, last);
}

// ---------------------------------------------------------------------------------------------------------
// teardown, shared by stop(), the exit hook and the crash cleanup (synchronous, so the exit hook can run it)

/** Kill a host's processes: SIGKILL of its PID 1 ends every process of its pid namespace; then anything else in its netns. */
function killHost(h: HostRecord): number[] {
  const killed: number[] = [];
  const kill = (pid: number) => {
    signal(pid, "SIGKILL");
    killed.push(pid);
  };
  if (same(h.init)) kill(h.init.pid);
  else if (same(h.unshare)) {
    // the record ends before the init was noted: the unshare's child is it
    const child = childOf(h.unshare);
    if (child !== null) kill(child);
  }
  if (same(h.unshare)) kill(h.unshare.pid);
  // processes that entered the netns without its pid namespace (an nsenter, an `ip netns exec` of a test's)
  const r = run(["ip", "netns", "pids", h.ns]);
  if (r.code === 0) for (const pid of r.out.split("\n").map(Number).filter((p) => Number.isSafeInteger(p) && p > 1)) kill(pid);
  return killed;
}

function teardownSync(r: RigRecord): void {
  const killed = r.hosts.flatMap(killHost);
  waitUntilSync(() => killed.every((p) => !alive(p)), 5_000);
  // `ip netns del` is asynchronous (the netns goes once its last user does): the veths explicitly first
  const script = [...r.hosts.map((h) => `link del ${h.veth}`), ...r.hosts.map((h) => `netns del ${h.ns}`), `link del ${r.bridge}`];
  run(["ip", "-force", "-batch", "-"], { stdin: script.join("\n") + "\n" });
  rmSync(r.dir, { recursive: true, force: true });
}

/**
 * Tear down recorded rigs whose owner is gone (a test run that died before stop()), or every one with `all`. Rigs
 * recorded in another pid or net namespace are left to a cleanup run there. Returns the dirs it cleaned.
 */
export function cleanupStale(opts: { all?: boolean } = {}): string[] {
  const cleaned: string[] = [];
  for (const n of namesIn(STATE_ROOT)) {
    const dir = join(STATE_ROOT, n);
    const r = readRecord(dir);
    if (!r) {
      // claimed but never recorded: nothing was made yet (give a rig being built a minute to write it)
      if (opts.all || ageMs(dir) > 60_000) {
        rmSync(dir, { recursive: true, force: true });
        cleaned.push(dir);
      }
      continue;
    }
    if (r.where !== here()) {
      if (!rebooted(r.where)) continue;
      rmSync(dir, { recursive: true, force: true });
    } else if (opts.all || !same(r.owner)) {
      live.delete(r.dir);
      teardownSync(r);
    } else continue;
    cleaned.push(dir);
  }
  return cleaned;
}

// ---------------------------------------------------------------------------------------------------------
// the rig

/** Rigs of this process not yet stopped, by dir: the exit hook tears them down. */
const live = new Map<string, RigRecord>();
let exitHook = false;

function hookExit(): void {
  if (exitHook) return;
  exitHook = true;
  // A script that exits without stop(). (bun test runs no exit handlers: there the next startHosts's or CI's
  // cleanupStale() does it.)
  process.on("exit", () => {
    for (const r of live.values()) teardownSync(r);
  });
}

function sshPrefix(keyFile: string, knownHosts: string): string[] {
  const o = (kv: string) => ["-o", kv];
  return [
    "ssh",
    "-F",
    "/dev/null",
    "-i",
    keyFile,
    ...o("IdentitiesOnly=yes"),
    ...o("BatchMode=yes"),
    ...o(`UserKnownHostsFile=${knownHosts}`),
    ...o("GlobalKnownHostsFile=/dev/null"),
    ...o("StrictHostKeyChecking=yes"),
  ];
}

function testHost(rig: RigRecord, h: HostRecord, hostKeyLine: string, ssh: string[]): TestHost {
  return {
    name: h.name,
    ns: h.ns,
    address: h.address,
    port: 22,
    home: join(h.dir, "home"),
    opt: join(h.dir, "opt"),
    hostKeyLine,
    run(cmd, timeoutMs = 10_000) {
      if (!same(h.init)) return { code: 255, out: "", err: `hosts: ${h.name} is not running\n` };
      // timeout(1) inside kills the command's process group; the spawn's own timeout is the backstop
      const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
      return run(inHost(h, ["timeout", "-k", "1", secs, "sh", "-c", cmd]), { env: HOST_ENV, timeoutMs: timeoutMs + 3_000 });
    },
    unplug() {
      must(["ip", "link", "set", h.veth, "down"]);
    },
    plug() {
      must(["ip", "link", "set", h.veth, "up"]);
      // a host plugged back while its sshd is stopped has nothing to accept: startSshd() waits for that
      if (sshdsOf(h).length > 0) waitAcceptsSync(ssh, h);
    },
    stopSshd() {
      const pids = sshdsOf(h);
      for (const pid of pids) signal(pid, "SIGKILL");
      if (!waitUntilSync(() => pids.every((p) => !alive(p)), 5_000)) throw new Error(`hosts: sshd on ${h.name} did not die: ${pids.filter(alive).join(" ")}`);
    },
    async startSshd() {
      launchSshd(rig, h);
      await waitAccepts(ssh, h);
    },
  };
}

/** How long the last startHosts took, until every sshd accepted a key login. */
export const timings = { startMs: 0 };

/** Start `n` hosts (h1..hN), each with sshd accepting root's key login. stop() the rig when done. */
export async function startHosts(n: number): Promise<HostRig> {
  if (!Number.isSafeInteger(n) || n < 1 || n > 200) throw new Error(`hosts: startHosts(${n}): 1 to 200 hosts`);
  const t0 = performance.now();
  cleanupStale();
  // sshd's privilege separation dir (compiled in): openssh-server's own, shared by every sshd, so it stays
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const { id, dir } = claim();
  const rig: RigRecord = {
    id,
    dir,
    owner: procOf(process.pid),
    where: here(),
    bridge: `svhb${id}`,
    hosts: Array.from({ length: n }, (_, i) => hostRecord(id, dir, i + 1)),
  };
  writeRecord(rig);
  live.set(dir, rig);
  hookExit();
  try {
    return await build(rig, t0);
  } catch (e) {
    live.delete(dir);
    teardownSync(rig);
    throw e;
  }
}

async function build(rig: RigRecord, t0: number): Promise<HostRig> {
  const keyFile = join(rig.dir, "key");
  const knownHosts = join(rig.dir, "known_hosts");
  for (const h of rig.hosts) {
    mkdirSync(join(h.dir, "home"), { recursive: true, mode: 0o700 });
    mkdirSync(join(h.dir, "opt"), { recursive: true, mode: 0o755 });
    writeFileSync(join(h.dir, "sshd_config"), sshdConfig(rig, h));
  }
  await Promise.all([keygen(keyFile, `sv-test-${rig.id}`), ...rig.hosts.map((h) => keygen(join(h.dir, "hostkey"), h.name)), netUp(rig)]);
  writeFileSync(join(rig.dir, "authorized_keys"), readFileSync(`${keyFile}.pub`));
  const lines = rig.hosts.map((h) => `${h.address} ${readFileSync(join(h.dir, "hostkey.pub"), "utf8").split(" ").slice(0, 2).join(" ")}`);
  writeFileSync(knownHosts, lines.join("\n") + "\n");
  const ssh = sshPrefix(keyFile, knownHosts);

  for (const h of rig.hosts) h.unshare = spawnInit(h);
  writeRecord(rig);
  await Promise.all(rig.hosts.map((h) => waitInit(rig, h)));
  for (const h of rig.hosts) launchSshd(rig, h);
  await Promise.all(rig.hosts.map((h) => waitAccepts(ssh, h)));
  timings.startMs = performance.now() - t0;

  let stopped: Promise<void> | null = null;
  return {
    hosts: rig.hosts.map((h, i) => testHost(rig, h, lines[i]!, ssh)),
    keyFile,
    knownHosts,
    dir: rig.dir,
    ssh,
    stop() {
      stopped ??= (async () => {
        live.delete(rig.dir);
        teardownSync(rig);
      })();
      return stopped;
    },
  };
}

if (import.meta.main) {
  const [cmd, flag] = process.argv.slice(2);
  if (cmd === "cleanup" && (flag === undefined || flag === "--all")) {
    for (const d of cleanupStale({ all: flag === "--all" })) console.error(`hosts: cleaned up ${d}`);
    try {
      if (readdirSync(STATE_ROOT).length === 0) rmSync(STATE_ROOT, { recursive: true, force: true });
    } catch {}
  } else {
    console.error("usage: bun test/helpers/hosts.ts cleanup [--all]");
    process.exit(2);
  }
}
