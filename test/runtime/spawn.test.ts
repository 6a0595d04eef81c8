// Processes that cannot be started at all: a clear per-service line, state error, exit 1.
import { expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { events, sv, tempProject, unitStatus } from "../helpers/project.ts";

test.each([
  ["a command that does not exist", { command: ["/nonexistent/server"] }, "cannot start /nonexistent/server: command not found"],
  ["a cwd that does not exist", { command: "sleep 1000", cwd: "./nope" }, "cannot start /bin/sh: working directory ROOT/nope does not exist"],
  ["a script without the x bit", { command: ["ROOT/noexec.sh"] }, "cannot start ROOT/noexec.sh: permission denied"],
  ["an executable that is no program", { command: ["ROOT/garbage"] }, "cannot start ROOT/garbage: not an executable program (missing #! line?)"],
] as [string, Record<string, unknown>, string][])("%s ends in error with one clear line", async (_, def, reason) => {
  const p = tempProject({ "noexec.sh": "#!/bin/sh\necho hi\n", garbage: "not a program\n" });
  chmodSync(join(p.root, "garbage"), 0o755);
  const why = reason.replaceAll("ROOT", p.root);
  p.write("services/broken.yml", JSON.stringify(def).replaceAll("ROOT", p.root));
  const up = await sv(p.root, ["up"]);
  expect(up.stdout).toBe(`✘ broken: ${why}\n`);
  expect(up.stderr).toBe("✘ up: 1 of 1 service failed\n");
  expect(up.code).toBe(1);
  expect(await unitStatus(p.root, "broken")).toMatchObject({ state: "error", pid: null, last_error: why, wanted: "up" });
  expect(events(p.root).map((e) => `${e.from}->${e.to}`)).toEqual(["stopped->starting", "starting->error"]);
  // And it can be brought down like any failed service.
  expect(await sv(p.root, ["down"])).toEqual({ code: 0, stdout: "✓ broken stopped\n", stderr: "" });
});
