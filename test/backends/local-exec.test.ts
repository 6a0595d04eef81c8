// The local backend's exec beyond the contract: what a timeout does to the children of the command, and
// what a normal exit leaves alone.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecRequest } from "../../src/backends/backend.ts";
import { execLocal } from "../../src/backends/local/exec.ts";
import { isAlive, killAfterTest, tempProject, waitFor } from "../helpers/project.ts";
import { testService } from "./service.ts";

/** exec `script` under /bin/sh in a fresh project; `PIDS` in it names a file for the pids it records. */
function run(script: string, over: Partial<ExecRequest> = {}) {
  const p = tempProject();
  const pids = join(p.root, "pids");
  const req: ExecRequest = {
    unit: "api",
    svc: testService("api", "true", p.root),
    argv: ["/bin/sh", "-c", script.replaceAll("PIDS", pids)],
    env: { PATH: process.env.PATH },
    added: {},
    timeoutMs: 10_000,
    output: "capture",
    ...over,
  };
  const t0 = performance.now();
  const result = execLocal(req, join(p.root, ".sv/log/api.log")).then((r) => ({ ...r, ms: performance.now() - t0 }));
  const recorded = () => {
    const list = existsSync(pids) ? readFileSync(pids, "utf8").split("\n").filter(Boolean).map(Number) : [];
    for (const pid of list) killAfterTest(pid);
    return list;
  };
  return { result, recorded, log: () => readFileSync(join(p.root, ".sv/log/api.log"), "utf8") };
}

test.each(["capture", "log"] as const)("with output %s, a timeout kills the children of the command too, not just the command", async (output) => {
  const r = run("sleep 30 & echo $! >>PIDS; sleep 30 | cat; true", { timeoutMs: 200, output });
  const done = await r.result;
  expect(done).toMatchObject({ code: null, signal: "SIGKILL", timedOut: true });
  expect(done.ms).toBeLessThan(2000);
  const [child] = r.recorded();
  expect(child).toBeGreaterThan(1);
  await waitFor(() => !isAlive(child!), "the background child to be killed", 2000);
});

test("a command that exits leaves its background children alone (a hook may start a daemon)", async () => {
  const r = run("sleep 30 </dev/null >/dev/null 2>&1 & echo $! >>PIDS; echo started", { output: "log" });
  expect(await r.result).toMatchObject({ code: 0, signal: null, timedOut: false });
  const [child] = r.recorded();
  expect(isAlive(child!)).toBe(true);
  expect(r.log()).toBe("started\n");
});

test("capture returns soon after the command exits, even when a background child holds stderr open", async () => {
  const r = run("echo oops >&2; sleep 30 & echo $! >>PIDS");
  const done = await r.result;
  expect(done).toMatchObject({ code: 0, signal: null, timedOut: false, stderr: "oops\n" });
  expect(done.ms).toBeLessThan(1000);
  const [child] = r.recorded();
  expect(isAlive(child!)).toBe(true);
});

test("capture reads a large stderr without blocking the command, and keeps its last 64 KiB", async () => {
  const r = run("i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx >&2; i=$((i+1)); done; exit 4");
  const done = await r.result;
  expect(done).toMatchObject({ code: 4, timedOut: false });
  expect(done.stderr.length).toBe(64 << 10);
  expect(done.stderr.endsWith("line-1999-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n")).toBe(true);
});
