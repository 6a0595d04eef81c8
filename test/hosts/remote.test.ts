// Services on real sshd hosts (network, pid and mount namespaces of their own), driven through the compiled sv:
// addresses across hosts, healing, an unplugged host, and an sv killed in the middle of a remote start.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SV, sv, svBackground, waitFor } from "../helpers/project.ts";
import { get, hostProject, httpd, processesWith, statusOf, useHosts } from "./support.ts";

const rig = useHosts(3);

describe("services on hosts", () => {
  test("a db on h1, an api on h2 that reaches it through DB_ADDR, a local worker that gets the api's address", async () => {
    const [h1, h2] = rig().hosts;
    const p = hostProject(rig(), {
      db: { host: "h1", command: `mkdir -p /root/db && echo db-on-h1 > /root/db/index.html && exec busybox httpd -f -p 7101 -h /root/db`, port: 7101 },
      api: { host: "h2", depends_on: ["db"], command: `mkdir -p /root/www && busybox wget -qO /root/www/index.html "http://$DB_ADDR/" && exec busybox httpd -f -p 7102 -h /root/www`, port: 7102 },
      worker: { depends_on: ["api"], command: `echo "$API_ADDR $API_HOST $API_PORT" > worker.addr; exec sleep 1000` },
    });
    const up = await sv(p.root, ["up"]);
    expect(up.stderr).not.toContain("failed");
    expect(up.code).toBe(0);
    expect((await get(`http://${h2!.address}:7102/`))?.trim()).toBe("db-on-h1");
    await waitFor(() => { try { return readFileSync(join(p.root, "worker.addr"), "utf8").trim(); } catch { return null; } }, "worker wrote its address");
    expect(readFileSync(join(p.root, "worker.addr"), "utf8").trim()).toBe(`${h2!.address}:7102 ${h2!.address} 7102`);
    const rows = await statusOf(p.root);
    expect(rows.db).toMatchObject({ state: "running", health: "healthy", host: "h1" });
    expect(rows.api).toMatchObject({ state: "running", health: "healthy", host: "h2" });
    // The pid shown is the host's own (its pid namespace): it is a live process there running the command.
    expect(h1!.run(`cat /proc/${rows.db!.pid}/cmdline | tr '\\0' ' '`).out).toContain("busybox httpd -f -p 7101");
    expect((await sv(p.root, ["down"])).code).toBe(0);
    expect(await get(`http://${h2!.address}:7102/`)).toBeNull();
    expect(processesWith(h1!, "-p 7101")).toEqual([]);
  }, 60_000);

  test("a remote process killed is healed by reconcile, and by watch within its interval", async () => {
    const h3 = rig().hosts[2]!;
    const p = hostProject(rig(), { web: { host: "h3", command: httpd(7103, "/root/w3"), port: 7103 } });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const first = (await statusOf(p.root)).web!.pid!;
    h3.run(`kill -KILL ${first}`);
    await waitFor(async () => (await statusOf(p.root)).web!.state !== "running", "the kill is seen");
    const rec = await sv(p.root, ["reconcile"]);
    expect(rec.code).toBe(0);
    const second = (await statusOf(p.root)).web!;
    expect(second).toMatchObject({ state: "running", restarts: 1 });
    expect(second.pid).not.toBe(first);
    expect(await get(`http://${h3.address}:7103/`)).not.toBeNull();

    const watch = svBackground(p.root, ["watch", "--interval", "300ms"], { timeoutMs: 60_000 });
    await waitFor(async () => (await statusOf(p.root)).web!.state === "running", "watching");
    h3.run(`kill -KILL ${second.pid}`);
    const healed = await waitFor(async () => {
      const r = (await statusOf(p.root)).web!;
      return r.state === "running" && r.pid !== second.pid && r.restarts === 2 ? r : null;
    }, "watch heals it", 15_000);
    expect(processesWith(h3, "httpd -f -p 7103")).toHaveLength(1); // one copy, not two
    process.kill(watch.pid, "SIGTERM");
    await watch.done;
    expect(healed.host).toBe("h3");
    expect((await sv(p.root, ["down"])).code).toBe(0);
  }, 60_000);

  test("an unplugged host: its services are unknown (not restarted, not crashed), the others go on; plugged back, all is well", async () => {
    const [h1, h2] = rig().hosts;
    const p = hostProject(rig(), {
      a: { host: "h1", command: httpd(7111, "/root/a"), port: 7111 },
      b: { host: "h2", command: httpd(7112, "/root/b"), port: 7112 },
      c: { command: "exec sleep 1000" },
    });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const before = await statusOf(p.root);
    h1!.unplug();
    try {
      const rows = await statusOf(p.root);
      expect(rows.a).toMatchObject({ state: "unknown", health: "unknown" });
      expect(rows.a!.last_error).toMatch(/^host h1 unreachable since \d{4}-/);
      expect(rows.b).toMatchObject({ state: "running", health: "healthy" });
      expect(rows.c).toMatchObject({ state: "running" });
      const table = await sv(p.root, ["status"]);
      expect(table.stdout).toMatch(/a\s+unknown/);
      expect(table.stderr).toContain("host h1 (");
      const rec = await sv(p.root, ["reconcile"]);
      expect(rec.code).toBe(1);
      expect(rec.stdout).not.toContain("restarting");
      // Still recorded as it was seen last: nothing counted as a crash.
      expect((await statusOf(p.root)).a).toMatchObject({ restarts: 0 });
    } finally {
      h1!.plug();
    }
    const after = await waitFor(async () => ((await statusOf(p.root)).a!.state === "running" ? await statusOf(p.root) : null), "h1 back");
    expect(after.a).toMatchObject({ state: "running", health: "healthy", restarts: 0, pid: before.a!.pid });
    expect((await sv(p.root, ["reconcile"])).code).toBe(0);
    expect((await sv(p.root, ["down"])).code).toBe(0);
    expect(processesWith(h2!, "-p 7112")).toEqual([]);
  }, 60_000);

  test("sv killed in the middle of a remote start: nothing is lost or doubled", async () => {
    const h2 = rig().hosts[1]!;
    for (let round = 0; round < 3; round++) {
      const p = hostProject(rig(), { slow: { host: "h2", command: `exec sleep 1${round}01`, hooks: { pre_start: "true" } } });
      const bg = svBackground(p.root, ["up"]);
      // Kill it as soon as the unit's run dir exists on the host (prepared, maybe released), at a different moment each round.
      await waitFor(() => h2.run(`ls -d /root/.sv/${p.name}/run/slow.t* 2>/dev/null`).out.trim() !== "", "prepared on h2", 15_000);
      if (round > 0) await Bun.sleep(round * 15);
      process.kill(bg.pid, "SIGKILL");
      await bg.done;
      const up = await sv(p.root, ["up"]);
      expect(up.code).toBe(0);
      expect(processesWith(h2, `sleep 1${round}01`)).toHaveLength(1);
      expect((await statusOf(p.root)).slow).toMatchObject({ state: "running" });
      expect((await sv(p.root, ["down"])).code).toBe(0);
      expect(processesWith(h2, `sleep 1${round}01`)).toEqual([]);
    }
  }, 90_000);

  test("logs and hooks run on the host: sv logs tails and follows a remote log merged with a local one", async () => {
    const p = hostProject(rig(), {
      talk: { host: "h1", command: `echo "hello from $(hostname)"; exec sleep 1000`, hooks: { post_start: "echo post-start on $(hostname)" } },
      here: { command: "echo hello from here; exec sleep 1000" },
    });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const logs = await waitFor(async () => {
      const r = await sv(p.root, ["logs", "-n", "10"]);
      return r.stdout.includes("post-start on h1") && r.stdout.includes("hello from here") ? r.stdout : null;
    }, "both logs");
    expect(logs).toContain("hello from h1");
    const follow = Bun.spawn([SV, "logs", "-f", "talk"], { cwd: p.root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let seen = "";
    void (async () => {
      for await (const chunk of follow.stdout) seen += new TextDecoder().decode(chunk);
    })();
    await waitFor(() => seen.includes("hello from h1"), "the follower printed the log so far");
    rig().hosts[0]!.run(`echo appended-later >> /root/.sv/${p.name}/log/talk.log`);
    await waitFor(() => seen.includes("appended-later"), "the follower printed the new line");
    follow.kill("SIGTERM");
    await follow.exited;
    expect((await sv(p.root, ["down"])).code).toBe(0);
  }, 60_000);
  // What sv adds travels to a remote hook, and the service's env; sv's own environment stays here, even a
  // variable named like an address (a name filter let LEAK_PORT through).
  test("a remote hook gets what sv adds and the service's env, none of sv's own environment", async () => {
    const p = hostProject(rig(), {
      env1: { host: "h1", command: "exec sleep 1000", env: { MINE: "declared" }, hooks: { post_start: 'echo "hook-env $SV_HOOK $SV_SERVICE $MINE $${LEAK_PORT:-unset} $${LEAK:-unset}"' } },
    });
    expect((await sv(p.root, ["up"], { env: { LEAK_PORT: "9999", LEAK: "x" } })).code).toBe(0);
    const line = await waitFor(async () => (await sv(p.root, ["logs", "-n", "10", "env1"])).stdout.split("\n").find((l) => l.includes("hook-env")), "the hook's line");
    expect(line).toEndWith("hook-env post_start env1 declared unset unset");
    expect((await sv(p.root, ["down"])).code).toBe(0);
  }, 60_000);

  test("under sv watch, an unplugged host is retried with a backoff and its services carry on by themselves once it is back", async () => {
    const h1 = rig().hosts[0]!;
    const p = hostProject(rig(), { w: { host: "h1", command: httpd(7121, "/root/w"), port: 7121 } });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    const pid = (await statusOf(p.root)).w!.pid;
    const watch = svBackground(p.root, ["watch", "--interval", "300ms"], { timeoutMs: 60_000 });
    await waitFor(async () => (await statusOf(p.root)).w!.state === "running", "watching");
    h1.unplug();
    try {
      await waitFor(async () => (await statusOf(p.root)).w!.state === "unknown", "unknown while unplugged");
    } finally {
      h1.plug();
    }
    // The watch recovers by itself (no sv command needed): the same process, never restarted.
    await waitFor(async () => {
      const r = (await statusOf(p.root)).w!;
      return r.state === "running" && r.pid === pid ? r : null;
    }, "running again", 20_000);
    const ev = await sv(p.root, ["events", "--json"]);
    expect(ev.stdout).not.toContain('"to":"restarting"');
    process.kill(watch.pid, "SIGTERM");
    await watch.done;
    expect((await statusOf(p.root)).w).toMatchObject({ restarts: 0, pid });
    expect((await sv(p.root, ["down"])).code).toBe(0);
  }, 60_000);

  test("sv down while a host is unplugged: its services fail to stop and stay recorded; the next sv down, once it is back, stops them", async () => {
    const h2 = rig().hosts[1]!;
    const p = hostProject(rig(), { x: { host: "h2", command: httpd(7131, "/root/x"), port: 7131 }, y: { command: "exec sleep 1000" } });
    expect((await sv(p.root, ["up"])).code).toBe(0);
    h2.unplug();
    let down;
    try {
      down = await sv(p.root, ["down"]);
    } finally {
      h2.plug();
    }
    expect(down.code).toBe(1);
    expect(down.stdout + down.stderr).toContain("x: host h2 (");
    expect(down.stdout + down.stderr).toContain("is unreachable");
    expect(down.stdout + down.stderr).not.toMatch(/\n\s+at /);
    expect(processesWith(h2, "httpd -f -p 7131")).toHaveLength(1); // nothing was lost: it still runs, and sv knows it
    const again = await sv(p.root, ["down"]);
    expect(again.code).toBe(0);
    expect(processesWith(h2, "httpd -f -p 7131")).toEqual([]);
    expect(Object.values(await statusOf(p.root)).map((r) => r.state)).toEqual(["stopped", "stopped"]);
  }, 60_000);
});
