// The ssh-host fixture itself (test/helpers/hosts.ts): three real sshd hosts, each with its own hostname, HOME, /opt
// and pids; a detached process outlives its ssh session and an sshd restart and is reparented to the host's PID 1;
// an unplugged host times out and comes back; stop() leaves nothing behind; and `cleanup` removes the rig of an
// owner that died.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { type HostRig, type TestHost, startHosts, timings } from "../helpers/hosts.ts";
import { BUN, REPO, killAfterTest, waitFor } from "../helpers/project.ts";

type Ssh = { code: number; out: string; err: string; ms: number };

async function ssh(rig: HostRig, h: TestHost, cmd: string, opts: string[] = []): Promise<Ssh> {
  const t0 = performance.now();
  const p = Bun.spawn([...rig.ssh, ...opts, "-o", "ConnectTimeout=5", `root@${h.address}`, cmd], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err, ms: performance.now() - t0 };
}

/** A process as the host sees it: state, parent and start ticks, or null when it is gone. */
function procIn(h: TestHost, pid: number): { state: string; ppid: number; ticks: number; comm: string } | null {
  const r = h.run(`cat /proc/${pid}/stat`);
  if (r.code !== 0) return null;
  const comm = r.out.slice(r.out.indexOf("(") + 1, r.out.lastIndexOf(")"));
  const f = r.out.slice(r.out.lastIndexOf(")") + 2).split(" ");
  return { state: f[0]!, ppid: Number(f[1]), ticks: Number(f[19]), comm };
}

/** Command lines of every process the host sees, one a line. */
const cmdlines = (h: TestHost) => h.run(`for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f"; echo; done`).out;

/** Link names (without @peer) and netns names here. */
function netNames(): { links: string[]; netns: string[] } {
  const links = Bun.spawnSync(["ip", "-o", "link"])
    .stdout.toString()
    .split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0])
    .filter((n): n is string => !!n);
  const netns = Bun.spawnSync(["ip", "netns", "list"])
    .stdout.toString()
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter(Boolean);
  return { links, netns };
}

type Recorded = { bridge: string; hosts: { ns: string; veth: string; pidns?: string; unshare?: { pid: number; ticks: number }; init?: { pid: number; ticks: number }; sshd?: { pid: number; ticks: number } }[] };

const readRecorded = (dir: string): Recorded => JSON.parse(readFileSync(join(dir, "record.json"), "utf8"));

function ticksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return f[0] === "Z" ? null : Number(f[19]);
  } catch {
    return null;
  }
}

/** What of a recorded rig still exists here: its links, netns, recorded processes and processes in its pid namespaces. */
function remains(rec: Recorded): string[] {
  const { links, netns } = netNames();
  const left: string[] = [];
  for (const name of [rec.bridge, ...rec.hosts.map((h) => h.veth)]) if (links.includes(name)) left.push(`link ${name}`);
  for (const h of rec.hosts) if (netns.includes(h.ns)) left.push(`netns ${h.ns}`);
  for (const h of rec.hosts)
    for (const p of [h.unshare, h.init, h.sshd]) if (p && ticksOf(p.pid) === p.ticks) left.push(`pid ${p.pid}`);
  const pidns = new Set(rec.hosts.map((h) => h.pidns).filter(Boolean));
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (pidns.has(readlinkSync(`/proc/${name}/ns/pid`)) && ticksOf(Number(name)) !== null) left.push(`pid ${name} in a host's pid namespace`);
    } catch {}
  }
  return left;
}

describe("ssh hosts in network namespaces", () => {
  let rig: HostRig;
  let before: { links: string[]; netns: string[] };

  beforeAll(async () => {
    before = netNames();
    rig = await startHosts(3);
    console.log(`hosts: 3 hosts up in ${timings.startMs.toFixed(0)} ms`);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  test("three hosts start, each with its own address, name and host key", () => {
    expect(rig.hosts.map((h) => h.name)).toEqual(["h1", "h2", "h3"]);
    expect(new Set(rig.hosts.map((h) => h.address)).size).toBe(3);
    expect(new Set(rig.hosts.map((h) => h.ns)).size).toBe(3);
    for (const h of rig.hosts) expect(h.hostKeyLine).toMatch(new RegExp(`^${h.address.replace(/\./g, "\\.")} ssh-ed25519 AAAA\\S+$`));
    expect(readFileSync(rig.knownHosts, "utf8").trim().split("\n")).toEqual(rig.hosts.map((h) => h.hostKeyLine));
    expect(readFileSync(rig.keyFile, "utf8")).toContain("OPENSSH PRIVATE KEY");
    expect(statSync(rig.keyFile).mode & 0o777).toBe(0o600);
    expect(timings.startMs).toBeLessThan(5_000);
  });

  test("each host answers with its own hostname, and its HOME and /opt are its own", async () => {
    for (const h of rig.hosts) {
      const r = await ssh(rig, h, `hostname; echo $HOME; echo only-${h.name} > ~/mark-${h.name}; echo opt-${h.name} > /opt/mark-${h.name}`);
      expect(r).toMatchObject({ code: 0, out: `${h.name}\n/root\n` });
      console.log(`hosts: first ssh connection to ${h.name}: ${r.ms.toFixed(0)} ms`);
    }
    for (const h of rig.hosts) {
      expect(readFileSync(join(h.home, `mark-${h.name}`), "utf8")).toBe(`only-${h.name}\n`);
      expect(readFileSync(join(h.opt, `mark-${h.name}`), "utf8")).toBe(`opt-${h.name}\n`);
      const r = await ssh(rig, h, "ls -A /root /opt");
      expect(r.out).toBe(`/opt:\nmark-${h.name}\n\n/root:\nmark-${h.name}\n`);
    }
    expect(existsSync("/root/mark-h1")).toBe(false);
    expect(existsSync("/opt/mark-h1")).toBe(false);
  });

  test("each host has its own pid namespace: PID 1 is tini, and a process on h1 is not visible on h2", async () => {
    const namespaces = await Promise.all(rig.hosts.map((h) => ssh(rig, h, "readlink /proc/self/ns/pid; cat /proc/1/comm")));
    for (const r of namespaces) expect(r.out).toMatch(/^pid:\[\d+\]\ntini\n$/);
    const ids = namespaces.map((r) => r.out.split("\n")[0]);
    expect(new Set([...ids, readlinkSync("/proc/self/ns/pid")]).size).toBe(4);

    const [h1, h2, h3] = rig.hosts as [TestHost, TestHost, TestHost];
    const pid = Number(h1.run("setsid sleep 4243 </dev/null >/dev/null 2>&1 & echo $!").out.trim());
    expect(pid).toBeGreaterThan(1);
    await waitFor(() => procIn(h1, pid)?.comm === "sleep", "sleep 4243 runs on h1");
    expect(cmdlines(h1)).toContain("sleep 4243");
    expect(cmdlines(h2)).not.toContain("sleep 4243");
    expect(cmdlines(h3)).not.toContain("sleep 4243");
    // tini reaps it as soon as it dies (no zombie stays)
    expect(h1.run(`kill ${pid}`).code).toBe(0);
    await waitFor(() => procIn(h1, pid) === null, "the killed sleep is reaped on h1");
  });

  test("a detached process returns at once, outlives its session and an sshd restart, and is reparented to PID 1", async () => {
    const h = rig.hosts[0]!;
    const r = await ssh(rig, h, `setsid sh -c 'exec sleep 1000' </dev/null >>/root/x.log 2>&1 & echo $!`);
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(3_000);
    const pid = Number(r.out.trim());
    expect(pid).toBeGreaterThan(1);
    const first = await waitFor(() => {
      const p = procIn(h, pid);
      return p && p.ppid === 1 ? p : null;
    }, "the detached sleep is reparented to the host's PID 1");
    expect(first).toMatchObject({ comm: "sleep", state: "S" });

    h.stopSshd();
    const refused = await ssh(rig, h, "true");
    expect(refused.code).toBe(255);
    expect(refused.err).toContain("Connection refused");
    expect(procIn(h, pid)).toMatchObject({ ppid: 1, ticks: first.ticks, comm: "sleep" });

    await h.startSshd();
    expect(procIn(h, pid)).toMatchObject({ ppid: 1, ticks: first.ticks, comm: "sleep" });
    const again = await ssh(rig, h, `cat /proc/${pid}/comm`);
    expect(again).toMatchObject({ code: 0, out: "sleep\n" });
    // the host key is the same one: strict checking against knownHosts passed
    expect(cmdlines(rig.hosts[1]!)).not.toContain("sleep 1000");

    expect(h.run(`kill ${pid}`).code).toBe(0);
    await waitFor(() => procIn(h, pid) === null, "the detached sleep is gone");
  });

  test("a multiplexed session rides one master; stopSshd drops the master, startSshd lets a new one in", async () => {
    const h = rig.hosts[2]!;
    const mux = ["-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-o", `ControlPath=${rig.dir}/cm-%C`];
    // the master: its stdio ignored (a ControlPersist master keeps the caller's pipes open)
    const master = Bun.spawn([...rig.ssh, ...mux, "-o", "ConnectTimeout=5", "-N", "-f", `root@${h.address}`], { stdio: ["ignore", "ignore", "ignore"] });
    expect(await master.exited).toBe(0);
    const check = Bun.spawnSync([...rig.ssh, ...mux, "-O", "check", `root@${h.address}`], { stdout: "ignore", stderr: "pipe" });
    expect(check.exitCode).toBe(0);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ssh(rig, h, "hostname", mux);
      expect(r).toMatchObject({ code: 0, out: "h3\n" });
      times.push(r.ms);
    }
    console.log(`hosts: multiplexed command: ${times.map((t) => t.toFixed(0)).join(", ")} ms`);

    h.stopSshd();
    await waitFor(() => Bun.spawnSync([...rig.ssh, ...mux, "-O", "check", `root@${h.address}`], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0, "the master exits once sshd is killed");
    expect((await ssh(rig, h, "true", mux)).code).toBe(255);
    await h.startSshd();
    expect(await ssh(rig, h, "hostname", mux)).toMatchObject({ code: 0, out: "h3\n" });
    Bun.spawnSync([...rig.ssh, ...mux, "-O", "exit", `root@${h.address}`], { stdout: "ignore", stderr: "ignore" });
  });

  test("an unplugged host times out (dropped, not refused) while the others answer; plugged, it answers again", async () => {
    const [, h2, h3] = rig.hosts as [TestHost, TestHost, TestHost];
    h2.unplug();
    const down = await ssh(rig, h2, "true", ["-o", "ConnectTimeout=1"]);
    expect(down.code).toBe(255);
    expect(down.err).toContain("timed out");
    expect(down.ms).toBeGreaterThanOrEqual(950);
    expect(await ssh(rig, h3, "hostname")).toMatchObject({ code: 0, out: "h3\n" });
    const t0 = performance.now();
    h2.plug();
    console.log(`hosts: plug() until sshd accepts: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(await ssh(rig, h2, "hostname", ["-o", "ConnectTimeout=1"])).toMatchObject({ code: 0, out: "h2\n" });

    // plugged back while its sshd is stopped: plug() returns at once, startSshd() brings it back
    h2.stopSshd();
    h2.unplug();
    const t1 = performance.now();
    h2.plug();
    expect(performance.now() - t1).toBeLessThan(2_000);
    expect((await ssh(rig, h2, "true")).err).toContain("Connection refused");
    await h2.startSshd();
    expect(await ssh(rig, h2, "hostname")).toMatchObject({ code: 0, out: "h2\n" });
  });

  test("run() sees the host's view and never throws", () => {
    const h = rig.hosts[1]!;
    expect(h.run("hostname; pwd; echo $HOME; cat /proc/1/comm")).toEqual({ code: 0, out: "h2\n/root\n/root\ntini\n", err: "" });
    expect(h.run("echo oops >&2; exit 3")).toEqual({ code: 3, out: "", err: "oops\n" });
    const t0 = performance.now();
    expect(h.run("sleep 30", 1_000).code).toBe(124);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  test("stop() leaves no process, link, netns or dir, and the names it used are as before", async () => {
    const rec = readRecorded(rig.dir);
    expect(rec.hosts.every((h) => h.init && h.unshare && h.sshd && h.pidns)).toBe(true);
    expect(remains(rec).length).toBeGreaterThan(0);
    const ours = (n: { links: string[]; netns: string[] }) => ({
      links: n.links.filter((l) => l === rec.bridge || rec.hosts.some((h) => h.veth === l)),
      netns: n.netns.filter((ns) => rec.hosts.some((h) => h.ns === ns)),
    });
    const t0 = performance.now();
    await rig.stop();
    console.log(`hosts: stop() took ${(performance.now() - t0).toFixed(0)} ms`);
    expect(remains(rec)).toEqual([]);
    expect(existsSync(rig.dir)).toBe(false);
    expect(ours(netNames())).toEqual(ours(before));
    expect(ours(before)).toEqual({ links: [], netns: [] });
  });
});

describe("cleanup", () => {
  test("`bun test/helpers/hosts.ts cleanup` removes the rig of an owner that was killed", async () => {
    const script = `const { startHosts } = await import(${JSON.stringify(join(REPO, "test/helpers/hosts.ts"))}); const rig = await startHosts(2); console.log(rig.dir); setInterval(() => {}, 1e6);`;
    const child = Bun.spawn([BUN, "-e", script], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    killAfterTest(child.pid);
    let out = "";
    const reader = (async () => {
      for await (const chunk of child.stdout) out += new TextDecoder().decode(chunk);
    })();
    const dir = await waitFor(() => /^(\/\S+)\n/.exec(out)?.[1], "the child prints its rig's dir", 15_000);
    const rec = readRecorded(dir);
    expect(rec.hosts.length).toBe(2);

    child.kill("SIGKILL");
    await child.exited;
    await reader;
    // its owner's death alone takes nothing down: that is cleanup's work
    expect(remains(rec).length).toBeGreaterThan(0);
    expect(existsSync(dir)).toBe(true);

    const cleanup = Bun.spawn([BUN, join(REPO, "test/helpers/hosts.ts"), "cleanup"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [err, code] = await Promise.all([new Response(cleanup.stderr).text(), cleanup.exited]);
    expect({ code, err }).toMatchObject({ code: 0, err: expect.stringContaining(`cleaned up ${dir}`) });
    expect(remains(rec)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
