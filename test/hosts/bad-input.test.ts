// Bad input on real sshd hosts, through the compiled sv: keys, authentication, host keys, a remote dir that cannot
// be written, hosts that do not answer, a port taken on the host, a command the host does not have. Each is one line
// naming the service and the host with what to do, exit 1 for a failed operation, no stack; nothing is left half-made
// on the hosts, and nothing of the project runs there once sv down ran.
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestHost } from "../helpers/hosts.ts";
import { type RunResult, sv, waitFor } from "../helpers/project.ts";
import { type HostProject, get, hostProject, httpd, processesWith, statusOf, useHosts } from "./support.ts";

const rig = useHosts(2);

/** A fresh private dir for keys and known_hosts files of one test. */
const scratch = () => mkdtempSync(join(tmpdir(), "sv-bad-input-"));

function keygen(file: string): string {
  const r = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", file], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  return file;
}

/** The SHA256 fingerprint of a known_hosts line ("ADDRESS TYPE KEY"). */
function fingerprintOf(line: string): string {
  const r = Bun.spawnSync(["ssh-keygen", "-l", "-f", "-"], { stdin: Buffer.from(`${line}\n`), stdout: "pipe" });
  const fp = r.stdout.toString().split(" ")[1];
  if (!fp?.startsWith("SHA256:")) throw new Error(`no fingerprint for ${line}: ${r.stdout}`);
  return fp;
}

/** No stack trace, no internal error: what sv printed is for a user. */
function expectNoStack(r: RunResult): void {
  const all = r.stdout + r.stderr;
  expect(all).not.toContain("    at ");
  expect(all).not.toMatch(/^\s*(error|Error|TypeError|SvError):/m);
  expect(all).not.toContain("internal error");
}

/** `sv up` of one service failed: exit 1, exactly the one line for it (returned), the summary on stderr. */
function expectOneFailure(r: RunResult, svc: string): string {
  expectNoStack(r);
  expect(r.code).toBe(1);
  const lines = r.stdout.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]!.startsWith(`✘ ${svc}: `)).toBe(true);
  expect(r.stderr).toBe("✘ up: 1 of 1 service failed\n");
  return lines[0]!;
}

/** The processes on `host` whose command line contains `marker`, as "PID ARGS" (so a failure shows what is left). */
function leftovers(host: TestHost, marker: string): string[] {
  const pids = new Set(processesWith(host, marker));
  return host.run("ps -eo pid=,args=").out.split("\n").map((l) => l.trim()).filter((l) => pids.has(Number(l.split(/\s+/)[0])));
}

/** None of the project's processes on `host` (its relays name its dir), nor any with `marker` (its command). */
function nothingOn(host: TestHost, p: HostProject, marker?: string): void {
  expect(leftovers(host, p.name)).toEqual([]);
  if (marker) expect(leftovers(host, marker)).toEqual([]);
}
const dirExists = (host: TestHost, path: string) => host.run(`test -e ${path} && echo yes || echo no`).out.trim() === "yes";

/** After a failed up: sv down ends it cleanly and nothing of it runs on the host. */
async function downLeavesNothing(p: HostProject, host: TestHost, marker: string): Promise<void> {
  const down = await sv(p.root, ["down"]);
  expectNoStack(down);
  expect(down.code).toBe(0);
  const states = Object.values(await statusOf(p.root)).map((r) => r.state);
  expect(states).toEqual(states.map(() => "stopped"));
  nothingOn(host, p, marker);
}

/** Add a host entry to the project's sv.yml. */
function addHost(p: HostProject, name: string, entry: Record<string, unknown>): void {
  const settings = JSON.parse(p.read("sv.yml"));
  settings.hosts[name] = entry;
  p.write("sv.yml", `${JSON.stringify(settings)}\n`);
}

describe("keys and authentication", () => {
  test("a key file that does not exist: says so, and how to make one; nothing reaches the host", async () => {
    const h1 = rig().hosts[0]!;
    const key = join(scratch(), "missing-key");
    const p = hostProject(rig(), { a: { host: "h1", command: "exec sleep 4301" } }, {}, { key_file: key });
    const line = expectOneFailure(await sv(p.root, ["up"]), "a");
    expect(line).toBe(`✘ a: host h1: key_file ${key} does not exist; create it (ssh-keygen -t ed25519 -f FILE) or fix key_file: in sv.yml`);
    expect((await statusOf(p.root)).a!.last_error).toContain(`key_file ${key} does not exist`);
    expect(dirExists(h1, `/root/.sv/${p.name}`)).toBe(false);
    await downLeavesNothing(p, h1, "sleep 4301");
  }, 30_000);

  test("a key file readable by others: says chmod 600, and ssh is not even tried", async () => {
    const h1 = rig().hosts[0]!;
    const key = join(scratch(), "key");
    copyFileSync(rig().keyFile, key);
    chmodSync(key, 0o644);
    const p = hostProject(rig(), { a: { host: "h1", command: "exec sleep 4302" } }, {}, { key_file: key });
    const line = expectOneFailure(await sv(p.root, ["up"]), "a");
    expect(line).toBe(`✘ a: host h1: key_file ${key} is readable by others (mode 644), so ssh refuses it; chmod 600 ${key}`);
    expect(dirExists(h1, `/root/.sv/${p.name}`)).toBe(false);
    // Done as the hint says, the next up works.
    chmodSync(key, 0o600);
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    expect(processesWith(h1, "sleep 4302")).toHaveLength(1);
    await downLeavesNothing(p, h1, "sleep 4302");
  }, 30_000);

  test("a key the host does not authorise: authentication failed, naming the user, host and key", async () => {
    const h1 = rig().hosts[0]!;
    const key = keygen(join(scratch(), "other"));
    const p = hostProject(rig(), { a: { host: "h1", command: "exec sleep 4303" } }, {}, { key_file: key });
    const line = expectOneFailure(await sv(p.root, ["up"]), "a");
    expect(line).toBe(`✘ a: authentication to h1 (root@${h1.address}:22) failed; is the key ${key} in the remote user's authorized_keys?`);
    expect(dirExists(h1, `/root/.sv/${p.name}`)).toBe(false);
    // sv hosts says the same, as an error to fix (not a host that does not answer).
    const hosts = await sv(p.root, ["hosts", "--json"]);
    expect(hosts.code).toBe(1);
    const report = (JSON.parse(hosts.stdout).hosts as { name: string; status: string; error: string }[]).find((h) => h.name === "h1")!;
    expect(report.status).toBe("error");
    expect(report.error).toContain("authentication to h1");
    await downLeavesNothing(p, h1, "sleep 4303");
  }, 30_000);
});

describe("host keys", () => {
  test("an unknown host key: the hint names sv hosts trust; trusting records its fingerprint, and sv up works", async () => {
    const h1 = rig().hosts[0]!;
    const knownHosts = join(scratch(), "known_hosts");
    writeFileSync(knownHosts, "");
    const p = hostProject(rig(), { a: { host: "h1", command: "exec sleep 4311" } }, {}, { known_hosts: knownHosts });
    const line = expectOneFailure(await sv(p.root, ["up"]), "a");
    expect(line).toBe(`✘ a: the host key of h1 (root@${h1.address}:22) is not known; check it and record it with \`sv hosts trust h1\` (keys are kept in ${knownHosts})`);
    expect(dirExists(h1, `/root/.sv/${p.name}`)).toBe(false);
    expect(readFileSync(knownHosts, "utf8")).toBe(""); // ssh never accepted it by itself

    const table = await sv(p.root, ["hosts"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/h1 .* error .*`sv hosts trust h1`/);

    const trust = await sv(p.root, ["hosts", "trust", "h1"]);
    expectNoStack(trust);
    expect(trust.code).toBe(0);
    const fp = fingerprintOf(h1.hostKeyLine);
    expect(trust.stdout).toBe(`trusted h1 (${h1.address}): ED25519 ${fp} (recorded in ${knownHosts})\n`);
    expect(readFileSync(knownHosts, "utf8")).toContain(h1.hostKeyLine.split(" ").slice(1).join(" "));
    // Trusting again changes nothing.
    const again = await sv(p.root, ["hosts", "trust", "h1"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`already trusted h1 (${h1.address}): ED25519 ${fp}\n`);

    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(0);
    expect((await statusOf(p.root)).a).toMatchObject({ state: "running", host: "h1" });
    expect(processesWith(h1, "sleep 4311")).toHaveLength(1);
    await downLeavesNothing(p, h1, "sleep 4311");
  }, 30_000);

  test("a changed host key: refused as changed, and sv hosts trust refuses too", async () => {
    const h1 = rig().hosts[0]!;
    const dir = scratch();
    const otherKey = readFileSync(`${keygen(join(dir, "impostor"))}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    const knownHosts = join(dir, "known_hosts");
    const recorded = `${h1.address} ${otherKey}\n`;
    writeFileSync(knownHosts, recorded);
    const p = hostProject(rig(), { a: { host: "h1", command: "exec sleep 4312" } }, {}, { known_hosts: knownHosts });
    const line = expectOneFailure(await sv(p.root, ["up"]), "a");
    expect(line).toBe(`✘ a: the host key of h1 (root@${h1.address}:22) has changed since it was trusted: refusing to connect; if the host was reinstalled, remove its old key from ${knownHosts} and run \`sv hosts trust h1\``);
    expect(dirExists(h1, `/root/.sv/${p.name}`)).toBe(false);

    const trust = await sv(p.root, ["hosts", "trust", "h1"]);
    expectNoStack(trust);
    expect(trust.code).toBe(1);
    expect(trust.stdout).toBe("");
    expect(trust.stderr).toBe(`✘ host h1 (${h1.address}) offers a key other than the one recorded in ${knownHosts}\n  hint: if it was reinstalled, remove the old key (ssh-keygen -R ${h1.address} -f ${knownHosts}) and trust it again\n`);
    expect(readFileSync(knownHosts, "utf8")).toBe(recorded); // nothing added beside the old key
    await downLeavesNothing(p, h1, "sleep 4312");
  }, 30_000);
});

describe("the remote dir", () => {
  for (const dir of ["/proc/sv-x", "/etc/hostname/sv"]) {
    test(`dir: ${dir}, which cannot be written: the start fails naming the dir`, async () => {
      const h1 = rig().hosts[0]!;
      const p = hostProject(rig(), { a: { host: "h1", command: "exec sleep 4321" } }, {}, { dir });
      const line = expectOneFailure(await sv(p.root, ["up"]), "a");
      expect(line).toBe(`✘ a: a: on h1: cannot write to ${dir} (its dir: setting)`);
      expect((await statusOf(p.root)).a).toMatchObject({ pid: null, last_error: `a: on h1: cannot write to ${dir} (its dir: setting)` });
      expect(processesWith(h1, "sleep 4321")).toEqual([]);
      await downLeavesNothing(p, h1, "sleep 4321");
    }, 30_000);
  }
});

describe("hosts that do not answer", () => {
  test("sv hosts: every host reachable with its latency; an address with nothing there, or a stopped sshd, exits 1", async () => {
    const [h1, h2] = rig().hosts;
    const p = hostProject(rig(), {});
    const ok = await sv(p.root, ["hosts"]);
    expectNoStack(ok);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^HOST +ADDRESS +STATUS +LATENCY +ERROR\\nh1 +root@${h1!.address.replaceAll(".", "\\.")}:22 +reachable +\\d+(\\.\\d)? ms *\\nh2 +root@${h2!.address.replaceAll(".", "\\.")}:22 +reachable +\\d+(\\.\\d)? ms *\\n$`));
    const json = JSON.parse((await sv(p.root, ["hosts", "--json"])).stdout).hosts as { name: string; reachable: boolean; status: string; latency_ms: number | null; error: string | null }[];
    expect(json.map((h) => [h.name, h.reachable, h.status, typeof h.latency_ms, h.error])).toEqual([
      ["h1", true, "reachable", "number", null],
      ["h2", true, "reachable", "number", null],
    ]);

    // An address on the rig's bridge where no host is: the connect times out.
    const ghost = h1!.address.replace(/\.\d+$/, ".250");
    addHost(p, "ghost", { address: ghost, user: "root", key_file: rig().keyFile, known_hosts: rig().knownHosts, connect_timeout: "1s" });
    const t0 = performance.now();
    const withGhost = await sv(p.root, ["hosts"]);
    expect(performance.now() - t0).toBeLessThan(8_000);
    expectNoStack(withGhost);
    expect(withGhost.code).toBe(1);
    const rows = withGhost.stdout.split("\n");
    expect(rows.find((r) => r.startsWith("h1 "))).toMatch(/ reachable /);
    expect(rows.find((r) => r.startsWith("ghost "))).toMatch(new RegExp(`^ghost +root@${ghost.replaceAll(".", "\\.")}:22 +unreachable +- +host ghost \\(${ghost.replaceAll(".", "\\.")}\\) is unreachable: `));

    // A host whose sshd is stopped: refused, unreachable; back once it runs again.
    h2!.stopSshd();
    try {
      const r = await sv(p.root, ["hosts", "--json"]);
      expect(r.code).toBe(1);
      const h2Report = (JSON.parse(r.stdout).hosts as { name: string; status: string; error: string; since: string | null }[]).find((h) => h.name === "h2")!;
      expect(h2Report).toMatchObject({ status: "unreachable" });
      expect(h2Report.error).toMatch(/^host h2 \(.*\) is unreachable: .*Connection refused/);
      expect(h2Report.since).toMatch(/^\d{4}-\d\d-\d\dT/);
    } finally {
      await h2!.startSshd();
    }
    const back = JSON.parse((await sv(p.root, ["hosts", "--json"])).stdout).hosts as { name: string; status: string }[];
    expect(back.find((h) => h.name === "h2")!.status).toBe("reachable");
  }, 60_000);

  test("a refused connection (sshd stopped): services unknown, reconcile exits 1 restarting nothing; sshd back, the same process runs", async () => {
    const h1 = rig().hosts[0]!;
    const p = hostProject(rig(), { web: { host: "h1", command: httpd(7331, "/root/w7331"), port: 7331 }, here: { command: "exec sleep 4331" } });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const before = (await statusOf(p.root)).web!;
    expect(before).toMatchObject({ state: "running", host: "h1" });
    h1.stopSshd();
    try {
      const rows = await statusOf(p.root);
      expect(rows.web).toMatchObject({ state: "unknown", health: "unknown" });
      expect(rows.web!.last_error).toMatch(/^host h1 unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z$/);
      expect(rows.here).toMatchObject({ state: "running" });
      const table = await sv(p.root, ["status"]);
      expectNoStack(table);
      expect(table.stdout).toMatch(/web\s+unknown/);
      const rec = await sv(p.root, ["reconcile"]);
      expectNoStack(rec);
      expect(rec.code).toBe(1);
      expect(rec.stdout + rec.stderr).toContain("host h1 (");
      expect(rec.stdout).not.toContain("restarting");
      // The service itself never stopped: only the way to it did.
      expect(processesWith(h1, "httpd -f -p 7331")).toEqual([before.pid!]);
    } finally {
      await h1.startSshd();
    }
    const after = await waitFor(async () => {
      const r = (await statusOf(p.root)).web!;
      return r.state === "running" ? r : null;
    }, "web seen running again", 20_000);
    expect(after).toMatchObject({ state: "running", health: "healthy", pid: before.pid, restarts: 0, last_error: null });
    expect((await get(`http://${h1.address}:7331/`)) !== null).toBe(true);
    expect((await sv(p.root, ["reconcile"])).code).toBe(0);
    expect((await sv(p.root, ["down"])).code).toBe(0);
    nothingOn(h1, p, "httpd -f -p 7331");
  }, 60_000);
});

describe("on the host", () => {
  test("a port already taken on the host: the start fails saying so, and nothing of it is left there", async () => {
    const h1 = rig().hosts[0]!;
    const blocker = "busybox httpd -f -p 7341 -h /root/blocker7341";
    h1.run(`mkdir -p /root/blocker7341 && (setsid ${blocker} </dev/null >/dev/null 2>&1 &)`);
    try {
      await waitFor(() => get(`http://${h1.address}:7341/`).then((b) => b !== null), "the blocker listens on h1:7341");
      const p = hostProject(rig(), { a: { host: "h1", command: httpd(7341, "/root/a7341"), port: 7341 } });
      const line = expectOneFailure(await sv(p.root, ["up"]), "a");
      expect(line).toBe("✘ a: a: port 7341 is already in use on h1");
      expect((await statusOf(p.root)).a).toMatchObject({ pid: null, last_error: "a: port 7341 is already in use on h1" });
      // Refused before anything was made: no run dir of the unit, no second httpd.
      expect(h1.run(`ls -A /root/.sv/${p.name}/run`).out.trim()).toBe("");
      expect(processesWith(h1, "httpd -f -p 7341")).toHaveLength(1);
      await downLeavesNothing(p, h1, "/root/a7341");
    } finally {
      for (const pid of processesWith(h1, blocker)) h1.run(`kill -KILL ${pid}`);
    }
    // (a SIGKILL is delivered asynchronously: the blocker may be listed for a moment after kill returns)
    await waitFor(() => processesWith(h1, blocker).length === 0, "the blocker is gone", 5_000);
  }, 30_000);

  test("a command the host does not have: as a list, the start fails saying command not found on the host", async () => {
    const h1 = rig().hosts[0]!;
    const p = hostProject(rig(), { a: { host: "h1", command: ["nosuchcmd-4351", "--flag"] } });
    const line = expectOneFailure(await sv(p.root, ["up"]), "a");
    expect(line).toBe("✘ a: a: on h1: cannot start nosuchcmd-4351: command not found");
    expect((await statusOf(p.root)).a).toMatchObject({ pid: null, last_error: "a: on h1: cannot start nosuchcmd-4351: command not found" });
    // Refused before it was prepared: nothing of the unit on the host.
    expect(h1.run(`ls -A /root/.sv/${p.name}/run 2>/dev/null`).out.trim()).toBe("");
    await downLeavesNothing(p, h1, "nosuchcmd-4351");
  }, 30_000);

  test("a command the host does not have, as a shell command: it exits 127 and its log says not found", async () => {
    const h1 = rig().hosts[0]!;
    const p = hostProject(rig(), { b: { host: "h1", command: "nosuchcmd-4352 --x" } });
    const line = expectOneFailure(await sv(p.root, ["up"]), "b");
    expect(line).toBe("✘ b: b exited with code 127 while starting");
    expect((await statusOf(p.root)).b).toMatchObject({ exit_code: 127, pid: null });
    const logs = await sv(p.root, ["logs", "b", "-n", "5"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/nosuchcmd-4352: not found/);
    await downLeavesNothing(p, h1, "nosuchcmd-4352");
  }, 30_000);

  test("a program the service's own PATH lacks is not found, though the host has it elsewhere", async () => {
    const h1 = rig().hosts[0]!;
    const p = hostProject(rig(), { c: { host: "h1", command: ["sleep", "4353"], env: { PATH: "/nonexistent" } } });
    const line = expectOneFailure(await sv(p.root, ["up"]), "c");
    expect(line).toBe("✘ c: c: on h1: cannot start sleep: command not found");
    // With the PATH fixed, the same argv runs.
    p.service("c", { host: "h1", command: ["sleep", "4353"], env: { PATH: "/usr/bin:/bin" } });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    expect(processesWith(h1, "sleep 4353")).toHaveLength(1);
    await downLeavesNothing(p, h1, "sleep 4353");
  }, 30_000);
});
