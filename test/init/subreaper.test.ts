// `sv init` when it is not PID 1: a child subreaper (PR_SET_CHILD_SUBREAPER) that reaps its services' orphans,
// while the children Bun waits for itself (command probes, hooks, relays) keep their exit status.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { SV, events, killAfterTest, tempProject, waitFor } from "../helpers/project.ts";
import { nsProcesses, startInit } from "./support.ts";

/** Children of `pid`, with their state, from /proc. */
function childrenOf(pid: number): { pid: number; state: string }[] {
  return nsProcesses(pid)
    .filter((p) => p.ppid === pid)
    .map((p) => ({ pid: p.pid, state: p.state }));
}

test("not PID 1: orphans of a service are re-parented to sv init and reaped, and sv says it is a subreaper", async () => {
  const p = tempProject();
  // Each orphan writes its pid once its parent has gone, then lives a second.
  p.write("services/forker.yml", JSON.stringify({ command: `i=0; while [ $i -lt 10 ]; do sh -c 'sh -c "sleep 0.1; echo \\$$$$ >> ${p.root}/orphans; sleep 1" & exit 0'; i=$((i+1)); sleep 0.02; done; sleep 1000` }));
  const proc = Bun.spawn([SV, "init"], { cwd: p.root, env: { ...process.env, NO_COLOR: "1", CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
  killAfterTest(proc.pid);
  const stderr = new Response(proc.stderr).text();
  await waitFor(() => {
    try {
      return readFileSync(`${p.root}/orphans`, "utf8").trim().split("\n").length >= 10;
    } catch {
      return false;
    }
  }, "ten orphans to report their parent");
  const orphans = readFileSync(`${p.root}/orphans`, "utf8").trim().split("\n").map(Number);
  const parents = new Set(orphans.map((pid) => nsProcesses(pid).find((x) => x.pid === pid)?.ppid));
  expect([...parents]).toEqual([proc.pid]);
  // They end a second later; none may stay a zombie of sv.
  await Bun.sleep(1200);
  await waitFor(() => childrenOf(proc.pid).every((c) => c.state !== "Z"), "no zombie child of sv init", 2000);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  const text = await stderr;
  expect(text).toContain(`sv init: pid ${proc.pid}, child subreaper;`);
  expect(Number(/\((\d+) orphans? reaped\)/.exec(text)?.[1])).toBeGreaterThanOrEqual(10);
}, 30_000);

test("reaping never takes the exit status of a child Bun waits for: command probes keep passing and failing right", async () => {
  const p = tempProject({ "health-code": "0\n" });
  // A probe that forks (its own orphan, to be reaped by sv) and exits with the code in a file; orphans come
  // from the service all the while.
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: "while :; do sh -c 'sleep 0.01 & exit 0'; sleep 0.02; done",
      health_check: { type: "command", command: `sh -c 'sleep 0.01 & exit $(cat ${p.root}/health-code)'`, interval: "100ms", retries: 2 },
      restart: "no",
    }),
  );
  const init = await startInit(p.root, ["--interval", "100ms"]);
  await init.waitOutput(/web running/, "web to be up");
  await Bun.sleep(1500);
  // (sv status from out here would judge the namespace's pids by this side's /proc: the events say it instead.)
  const notes = () => events(p.root).filter((e) => e.service === "web" && e.from === e.to).map((e) => e.reason);
  expect(notes()).toEqual([]);
  expect(init.stderr()).not.toMatch(/health|unhealthy/);
  // A failing probe is seen as failing with its code (3), not as a lost status.
  p.write("health-code", "3\n");
  await waitFor(() => notes().some((r) => r.includes("health command exited with code 3 (expected 0)")), "the probe's failure to be recorded");
  init.signal("SIGTERM");
  const { code } = await init.done;
  expect(code).toBe(0);
  expect(init.stderr()).not.toContain("ECHILD");
}, 30_000);
