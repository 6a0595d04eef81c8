// Lifecycle hooks and `sv exec`, driven through the compiled binary.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, SV, fixture, freePort, isAlive, isListening, killAfterTest, sv, svBackground, tempProject, unitStatus, waitFor } from "../helpers/project.ts";
import { spawns, unitEvents } from "./support.ts";

test.each([
  ["on-failure", "restarting"],
  ["no", "error"],
] as const)("a failing pre_start hook fails sv up with its exit code, and the service is never spawned (restart: %s -> %s)", async (restart, state) => {
  const p = tempProject();
  const file = join(p.root, "spawns");
  p.write("services/web.yml", JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, "sleep", "1000"], restart, hooks: { pre_start: "echo checking; exit 4" } }));
  const up = await sv(p.root, ["up"]);
  expect(up).toEqual({ code: 1, stdout: "✘ web: pre_start hook exited with code 4\n", stderr: "✘ up: 1 of 1 service failed\n" });
  expect(existsSync(file)).toBe(false);
  const s = (await unitStatus(p.root, "web")) as Awaited<ReturnType<typeof unitStatus>> & { since: string; next_restart_at?: string };
  expect(s).toMatchObject({ state, pid: null, last_error: "pre_start hook exited with code 4", restarts: 0 });
  // A first failure is retried at once by the policy (on-failure); restart: no gives up.
  if (state === "restarting") expect(s.next_restart_at).toBe(s.since);
  else expect(s.next_restart_at).toBeUndefined();
  // The hook's output went to the service's log.
  expect(p.read(".sv/log/web.log")).toBe("checking\n");
  expect(unitEvents(p.root, "web").map((e) => [e.from, e.to, e.reason])).toEqual([
    ["stopped", "starting", "start"],
    ["starting", state, "pre_start hook exited with code 4"],
  ]);
});

test("hooks run in order around the process: pre_start, post_start once it is up, pre_stop, post_stop once it is gone", async () => {
  const p = tempProject();
  const port = freePort();
  const file = join(p.root, "spawns");
  const trail = join(p.root, "trail");
  // Each hook notes whether the service's process is alive at that moment ("Z" = zombie counts as gone).
  const note = (name: string) => `p=$(tail -n1 ${file} 2>/dev/null | cut -d' ' -f1); s=; [ -n "$p" ] && s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); case "$s" in ""|Z) echo "${name} gone" ;; *) echo "${name} alive" ;; esac >> ${trail}`;
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: ["sh", fixture("record-pid.sh"), file, BUN, fixture("tcp-server.ts")],
      port,
      hooks: { pre_start: note("pre_start"), post_start: note("post_start"), pre_stop: note("pre_stop"), post_stop: note("post_stop") },
    }),
  );
  expect((await sv(p.root, ["up"])).code).toBe(0);
  expect(await isListening(port)).toBe(true);
  expect(p.read("trail")).toBe("pre_start gone\npost_start alive\n");
  const pid = (await unitStatus(p.root, "web")).pid!;
  const down = await sv(p.root, ["down"]);
  expect(down).toEqual({ code: 0, stdout: "✓ web stopped\n", stderr: "" });
  expect(p.read("trail")).toBe("pre_start gone\npost_start alive\npre_stop alive\npost_stop gone\n");
  expect(isAlive(pid)).toBe(false);
});

test("sv exec: brings the requirement up, passes its address, runs the command, and exits with its code", async () => {
  const p = tempProject();
  const port = freePort();
  p.write("services/db.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port }));
  const r = await sv(p.root, ["exec", "--requires", "db", "--", "sh", "-c", 'echo "$DB_HOST $DB_PORT $DB_ADDR"; exit 7']);
  expect(r.code).toBe(7);
  expect(r.stdout).toBe(`127.0.0.1 ${port} 127.0.0.1:${port}\n`);
  // db was really up while the command ran, and stays up (it is wanted up now).
  expect(await unitStatus(p.root, "db")).toMatchObject({ state: "running", wanted: "up" });
  expect(await isListening(port)).toBe(true);
  // Exit 0 passes through too.
  expect((await sv(p.root, ["exec", "--requires", "db", "--", "true"])).code).toBe(0);
});

test("sv exec: a requirement that fails to start is exit 1, and the command never runs", async () => {
  const p = tempProject();
  p.write("services/db.yml", JSON.stringify({ command: "echo cannot start; exit 3" }));
  const marker = join(p.root, "ran");
  const r = await sv(p.root, ["exec", "--requires", "db", "--", "touch", marker]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toContain("✘ db: db exited with code 3 while starting\n");
  expect(r.stderr).toEndWith("✘ exec: 1 required service failed; not running touch\n");
  expect(existsSync(marker)).toBe(false);
});

test("sv exec with a multi-instance requirement: every instance is up first; the command gets no SV_INSTANCE of its own", async () => {
  const p = tempProject();
  const file = join(p.root, "spawns");
  p.write("services/pool.yml", JSON.stringify({ command: ["sh", fixture("record-pid.sh"), file, "sleep", "1000"], instances: 2 }));
  const r = await sv(p.root, ["exec", "--requires", "pool", "--", "sh", "-c", 'echo "[${SV_INSTANCE:-none}]"']);
  expect(r).toMatchObject({ code: 0, stdout: "[none]\n" });
  expect(spawns(file).map((s) => s.instance).sort()).toEqual(["0", "1"]);
});

test("sv exec: a command killed by a signal exits 128+N; SIGTERM to sv is passed on to the command", async () => {
  const p = tempProject();
  expect((await sv(p.root, ["exec", "--", "sh", "-c", "kill -TERM $$"])).code).toBe(128 + 15);

  const proc = Bun.spawn([SV, "exec", "--", "sh", "-c", 'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.05; done'], {
    cwd: p.root,
    env: { ...process.env, NO_COLOR: "1", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
    // A group of its own, so the cleanup after the test also gets the command if sv failed to pass the signal on.
    detached: true,
  });
  killAfterTest(proc.pid);
  const reader = proc.stdout.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("ready\n");
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(5);
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("got TERM\n");
});

test("a restart for unhealthiness is a stop too: pre_stop and post_stop run around it", async () => {
  const p = tempProject({ "health-status": "200\n" });
  const port = freePort();
  const trail = join(p.root, "trail");
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: [BUN, fixture("http-server.ts"), join(p.root, "health-status")],
      port,
      health_check: { type: "http", url: `http://127.0.0.1:${port}/health`, interval: "100ms", timeout: "1s", retries: 1 },
      restart_delay: "0s",
      hooks: { pre_stop: `echo "pre_stop $SV_HOOK" >> ${trail}`, post_stop: `echo "post_stop $SV_HOOK" >> ${trail}` },
    }),
  );
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const oldPid = (await unitStatus(p.root, "web")).pid!;
  p.write("health-status", "503\n");
  // reconcile stops it and waits for the new process to be ready: let that one pass once the old one is gone.
  const reconcile = svBackground(p.root, ["reconcile"]);
  await waitFor(() => existsSync(trail) && p.read("trail").includes("post_stop"), "the restart's stop to finish");
  expect(p.read("trail")).toBe("pre_stop pre_stop\npost_stop post_stop\n");
  expect(isAlive(oldPid)).toBe(false);
  p.write("health-status", "200\n");
  const r = await reconcile.done;
  const why = `unhealthy: health check failed: http://127.0.0.1:${port}/health returned 503 (expected 200)`;
  expect(r).toEqual({ code: 0, stdout: `web: ${why}\nweb: ${why}; restarting\nweb: restarting: ${why}; stopped for a restart\nweb: running (health check passed)\n`, stderr: "" });
  expect(unitEvents(p.root, "web").slice(2).map((e) => [e.from, e.to, e.reason])).toEqual([
    ["running", "running", why],
    ["running", "restarting", `${why}; stopped for a restart`],
    ["restarting", "starting", `restarting: ${why}; stopped for a restart`],
    ["starting", "running", "health check passed"],
  ]);
  expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy", restarts: 1 });
  // The hooks ran once each: only the stop for the restart, nothing around the new start.
  expect(p.read("trail")).toBe("pre_stop pre_stop\npost_stop post_stop\n");
});
