// Processes that cannot be started at all: one clear per-service line and exit 1. The default policy
// (on-failure) keeps trying, since the user may fix the command or the file meanwhile, but under the
// backoff (never a spin) and with the same one line as the reason; `sv down` stops the trying.
import { expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { events, sv, tempProject, unitStatus } from "../helpers/project.ts";

/** Longer than the 10 s `sv reconcile` waits for a restart due soon: the retry after the first one is left to a later run. */
const DELAY = { restart_delay: "30s" };

test.each([
  ["a command that does not exist", { command: ["/nonexistent/server"] }, "cannot start /nonexistent/server: command not found"],
  ["a cwd that does not exist", { command: "sleep 1000", cwd: "./nope" }, "cannot start /bin/sh: working directory ROOT/nope does not exist"],
  ["a script without the x bit", { command: ["ROOT/noexec.sh"] }, "cannot start ROOT/noexec.sh: permission denied"],
  ["an executable that is no program", { command: ["ROOT/garbage"] }, "cannot start ROOT/garbage: not an executable program (missing #! line?)"],
] as [string, Record<string, unknown>, string][])("%s fails with one clear line, then is retried under the backoff", async (_, def, reason) => {
  const p = tempProject({ "noexec.sh": "#!/bin/sh\necho hi\n", garbage: "not a program\n" });
  chmodSync(join(p.root, "garbage"), 0o755);
  const why = reason.replaceAll("ROOT", p.root);
  p.write("services/broken.yml", JSON.stringify({ ...def, ...DELAY }).replaceAll("ROOT", p.root));
  const up = await sv(p.root, ["up"]);
  expect(up.stdout).toBe(`✘ broken: ${why}\n`);
  expect(up.stderr).toBe("✘ up: 1 of 1 service failed\n");
  expect(up.code).toBe(1);
  // A first failure is retried at once (no backoff yet), by the next reconcile or watch.
  const first = (await unitStatus(p.root, "broken")) as Awaited<ReturnType<typeof unitStatus>> & { since: string; next_restart_at?: string };
  expect(first).toMatchObject({ state: "restarting", pid: null, last_error: why, wanted: "up", restarts: 0 });
  expect(first.next_restart_at).toBe(first.since);
  const transitions = () => events(p.root).map((e) => `${e.from}->${e.to}: ${e.reason}`);
  expect(transitions()).toEqual(["stopped->starting: sv up", `starting->restarting: ${why}`]);

  // The retry fails the same way and backs off restart_delay; the reason stays the one line.
  const retry = await sv(p.root, ["reconcile"]);
  expect(retry).toEqual({ code: 1, stdout: `broken: restarting: ${why}\nbroken: start failed: ${why}\n`, stderr: "" });
  const second = (await unitStatus(p.root, "broken")) as typeof first;
  expect(second).toMatchObject({ state: "restarting", pid: null, last_error: why, restarts: 1 });
  expect(Date.parse(second.next_restart_at!) - Date.parse(second.since)).toBe(30_000);
  expect(transitions().slice(2)).toEqual([`restarting->starting: restarting: ${why}`, `starting->restarting: ${why}; restart in 30000 ms (attempt 2)`]);

  // Not due yet: a reconcile now tries nothing (no spin).
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stdout: "", stderr: "" });
  expect(events(p.root)).toHaveLength(4);

  // And it can be brought down like any failed service.
  expect(await sv(p.root, ["down"])).toEqual({ code: 0, stdout: "✓ broken stopped\n", stderr: "" });
  expect(await unitStatus(p.root, "broken")).toMatchObject({ state: "stopped", wanted: "down" });
});

test("with restart: no, a start that cannot be made ends in error and is not retried", async () => {
  const p = tempProject();
  p.write("services/broken.yml", JSON.stringify({ command: ["/nonexistent/server"], restart: "no" }));
  const why = "cannot start /nonexistent/server: command not found";
  expect(await sv(p.root, ["up"])).toEqual({ code: 1, stdout: `✘ broken: ${why}\n`, stderr: "✘ up: 1 of 1 service failed\n" });
  expect(await unitStatus(p.root, "broken")).toMatchObject({ state: "error", pid: null, last_error: why, wanted: "up", restarts: 0 });
  expect(await sv(p.root, ["reconcile"])).toEqual({ code: 1, stdout: "", stderr: "" });
  expect(events(p.root).map((e) => `${e.from}->${e.to}: ${e.reason}`)).toEqual(["stopped->starting: sv up", `starting->error: ${why}`]);
});
