// `sv init` as PID 1 of a real PID namespace (unshare --pid --fork --mount-proc): orphans of a double-forking
// service are reaped, SIGTERM stops every service in reverse dependency order within the budget, essential
// services end it with their code, SIGHUP recreates what changed, a read-only root works with SV_STATE_DIR.
import { expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type EventLine, events, eventIndex, fixture, tempProject, waitFor } from "../helpers/project.ts";
import { nsProcesses, politeService, startInit } from "./support.ts";

const stopped = (list: EventLine[], service: string) => eventIndex(list, service, "stopped", "stopping");
const stopping = (list: EventLine[], service: string) => eventIndex(list, service, "stopping", "running");

test("orphans of a double-forking service are reaped: no zombie lasts in the namespace", async () => {
  const p = tempProject();
  // Every 50 ms a child that forks a short-lived grandchild and exits at once: each grandchild is orphaned
  // to PID 1 and ends 20 ms later. A PID 1 that does not reap would collect ~20 zombies a second.
  p.write("services/forker.yml", JSON.stringify({ command: "while :; do sh -c 'sleep 0.02 & exit 0'; sleep 0.05; done" }));
  const init = await startInit(p.root);
  await init.waitOutput(/forker running/, "forker to be up");
  await Bun.sleep(1500);
  // A zombie may exist for the moment between its exit and its reaping: none may still be there 200 ms later.
  const lasting = new Set<number>();
  for (let i = 0; i < 5; i++) {
    const zombies = nsProcesses(init.pid).filter((x) => x.state === "Z").map((x) => x.pid);
    await Bun.sleep(200);
    for (const z of zombies) if (nsProcesses(init.pid).some((x) => x.pid === z && x.state === "Z")) lasting.add(z);
  }
  expect([...lasting]).toEqual([]);
  expect(nsProcesses(init.pid).filter((x) => x.state === "Z").length).toBeLessThanOrEqual(1);
  init.signal("SIGTERM");
  const { code } = await init.done;
  expect(code).toBe(0);
  // It counted them: at least one per 50 ms of the 1.5 s it ran.
  const reaped = Number(/\((\d+) orphans? reaped\)/.exec(init.stderr())?.[1]);
  expect(reaped).toBeGreaterThan(15);
}, 30_000);

test("SIGTERM to PID 1 stops every service in reverse dependency order, within the budget, and exits 0", async () => {
  const p = tempProject();
  p.write("services/db.yml", politeService("db", 200));
  p.write("services/api.yml", politeService("api", 200, { depends_on: ["db"] }));
  p.write("services/web.yml", politeService("web", 200, { depends_on: ["api"] }));
  const init = await startInit(p.root, ["--stop-timeout", "5s"]);
  for (const s of ["db", "api", "web"]) await init.waitOutput(new RegExp(`^${s} +\\| ${s} up$`, "m"), `${s} to say it is up`);
  const sent = performance.now();
  init.signal("SIGTERM");
  const { code, at } = await init.done;
  expect(code).toBe(0);
  // Three services one after the other, each taking 200 ms to stop: well within the 5 s budget.
  expect(at - sent).toBeLessThan(3000);
  const list = events(p.root);
  for (const s of ["web", "api", "db"]) expect(stopped(list, s)).toBeGreaterThan(-1);
  expect(stopped(list, "web")).toBeLessThan(stopping(list, "api"));
  expect(stopped(list, "api")).toBeLessThan(stopping(list, "db"));
  // Each said goodbye, behind its name, on sv's stdout.
  for (const s of ["db", "api", "web"]) expect(init.stdout()).toMatch(new RegExp(`^${s} +\\| ${s} bye$`, "m"));
  expect(init.stderr()).toContain("sv init: exit 0: SIGTERM received; everything stopped");
}, 30_000);

test("a service that ignores SIGTERM is killed within the budget; what it depends on is still stopped after it; exit 1", async () => {
  const p = tempProject();
  p.write("services/db.yml", politeService("db"));
  p.write("services/stubborn.yml", JSON.stringify({ command: [fixture("ignore-term.sh")], depends_on: ["db"], stop_timeout: "30s" }));
  const init = await startInit(p.root, ["--stop-timeout", "2s"]);
  await init.waitOutput(/stubborn +\| ready/, "stubborn to be up");
  const sent = performance.now();
  init.signal("SIGTERM");
  const { code, at } = await init.done;
  expect(code).toBe(1);
  expect(at - sent).toBeGreaterThan(1200);
  expect(at - sent).toBeLessThan(2000 + 500);
  const list = events(p.root);
  expect(list[stopped(list, "stubborn")]!.reason).toBe("killed with SIGKILL after stop_timeout");
  expect(stopped(list, "stubborn")).toBeLessThan(stopping(list, "db"));
  expect(list[stopped(list, "db")]!.reason).toBe("stopped");
  expect(init.stdout()).toMatch(/^db +\| db bye$/m);
}, 30_000);

test("SV_INIT_STOP_TIMEOUT sets the budget; a second SIGTERM while stopping kills what is left at once", async () => {
  const p = tempProject();
  p.write("services/stubborn.yml", JSON.stringify({ command: [fixture("ignore-term.sh")] }));
  const init = await startInit(p.root, [], { env: { SV_INIT_STOP_TIMEOUT: "20s" } });
  await init.waitOutput(/stopping everything|stubborn +\| ready/, "stubborn to be up");
  expect(init.stderr()).toContain("stop budget 20000 ms");
  init.signal("SIGTERM");
  await init.waitOutput(/stopping everything \(within 20000 ms\)/, "the stop to begin");
  await Bun.sleep(300);
  const sent = performance.now();
  init.signal("SIGTERM");
  const { code, at } = await init.done;
  expect(code).toBe(1);
  expect(at - sent).toBeLessThan(1500);
  expect(init.stderr()).toContain("asked again: SIGKILL to what is left");
}, 30_000);

test.each([
  ["exits with code 3", "echo working; sleep 0.3; exit 3", {}, 3, "job (essential) exited with code 3"],
  ["is killed by SIGKILL", "sleep 0.3; kill -KILL $$$$", {}, 137, "job (essential) was killed by SIGKILL"],
  ["completes (a oneshot)", "sleep 0.3; exit 0", { type: "oneshot" }, 0, "job (essential) completed"],
  ["gives up after max_restarts", "exit 7", { restart: "on-failure", restart_delay: "10ms", max_restarts: 2 }, 7, "job (essential) exited with code 7 while starting"],
] as const)("an essential service that %s ends sv init with its code, the others stopped first", async (_, command, extra, code, why) => {
  const p = tempProject();
  p.write("services/job.yml", JSON.stringify({ command, essential: true, restart: "no", ...extra }));
  p.write("services/side.yml", politeService("side"));
  const init = await startInit(p.root);
  const r = await init.done;
  expect({ code: r.code, why: new RegExp(`exit ${code}: (.*) \\(\\d+ orphans? reaped\\)`).exec(init.stderr())?.[1] }).toEqual({ code, why });
  expect(init.stdout()).toMatch(/^side +\| side bye$/m);
  expect(events(p.root).at(-1)).toMatchObject({ service: "side", to: "stopped" });
}, 30_000);

test.each(["SIGINT", "SIGQUIT"] as const)("with no essential service, one that ends for good does not end sv init; %s then exits 0", async (sig) => {
  const p = tempProject();
  p.write("services/once.yml", JSON.stringify({ command: "exit 5", restart: "no" }));
  p.write("services/side.yml", politeService("side"));
  const init = await startInit(p.root);
  await init.waitOutput(/once: once exited with code 5/, "once to fail");
  await Bun.sleep(500);
  init.signal(sig);
  expect((await init.done).code).toBe(0);
  expect(init.stderr()).toContain(`sv init: exit 0: ${sig} received; everything stopped`);
});

test("SIGHUP recreates the changed service, starts a new one, stops a removed one, and keeps the rest; job control is ignored", async () => {
  const p = tempProject();
  const svc = (name: string, says: string) => JSON.stringify({ command: `trap 'exit 0' TERM; echo ${says}; while :; do sleep 0.1; done` });
  p.write("services/a.yml", svc("a", "a-v1"));
  p.write("services/b.yml", svc("b", "b-v1"));
  p.write("services/gone.yml", svc("gone", "gone-v1"));
  const init = await startInit(p.root);
  await init.waitOutput(/^a +\| a-v1$/m, "a v1");
  await init.waitOutput(/^b +\| b-v1$/m, "b v1");
  // Ctrl-Z, background reads and writes from a terminal: ignored, sv stays running (not stopped, state T).
  for (const sig of ["SIGTSTP", "SIGTTIN", "SIGTTOU"] as const) init.signal(sig);
  await Bun.sleep(200);
  expect(nsProcesses(init.pid).find((x) => x.pid === init.pid)?.state).not.toBe("T");

  p.write("services/a.yml", svc("a", "a-v2"));
  p.write("services/new.yml", svc("new", "new-v1"));
  rmSync(join(p.root, "services/gone.yml"));
  init.signal("SIGHUP");
  await init.waitOutput(/^a +\| a-v2$/m, "a to be recreated");
  await init.waitOutput(/^new +\| new-v1$/m, "the new service to start");
  await waitFor(() => events(p.root).some((e) => e.service === "gone" && e.to === "stopped"), "the removed service to be stopped");
  await waitFor(() => events(p.root).filter((e) => e.service === "a" && e.to === "running").length === 2, "a to be running again");
  const list = events(p.root);
  expect(list.filter((e) => e.service === "a").map((e) => `${e.from}->${e.to} ${e.reason}`)).toEqual([
    "stopped->starting sv up",
    "starting->running started",
    "running->stopping recreating: definition changed",
    "stopping->stopped stopped",
    "stopped->starting recreating: definition changed",
    "starting->running started",
  ]);
  expect(list.filter((e) => e.service === "b").map((e) => e.to)).toEqual(["starting", "running"]);
  expect(init.stderr()).toContain("sv init: configuration reloaded");
  init.signal("SIGTERM");
  expect((await init.done).code).toBe(0);
  expect(init.stdout().match(/b-v1/g)?.length).toBe(1);
}, 30_000);

test("as a non-root PID 1, with a read-only project and its state on a tmpfs (SV_STATE_DIR), the environment passed through", async () => {
  const p = tempProject();
  p.write("services/env.yml", JSON.stringify({ command: 'echo "greeting=$GREETING user=$(id -u)"; while :; do sleep 0.1; done' }));
  const state = join(p.root, "state");
  mkdirSync(state);
  chmodSync(p.root, 0o755);
  // PID 1 is first a shell (root) that makes the project read-only, mounts a tmpfs for the state and becomes
  // sv as nobody.
  const init = await startInit(p.root, [], {
    env: { SV_STATE_DIR: state, GREETING: "hello from the container" },
    shell: `mount --bind ${p.root} ${p.root} && mount -o remount,bind,ro ${p.root} && mount -t tmpfs -o uid=65534,gid=65534,mode=0700 tmpfs ${state} && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"`,
  });
  await init.waitOutput(/^env +\| greeting=hello from the container user=65534$/m, "the service to print its environment");
  expect(init.stderr()).toContain("sv init: PID 1;");
  expect(existsSync(join(p.root, ".sv"))).toBe(false);
  init.signal("SIGTERM");
  expect((await init.done).code).toBe(0);
}, 30_000);
