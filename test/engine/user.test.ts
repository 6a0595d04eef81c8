// user:/group: (sv as root): the service, its hooks and its command probes all run as that user, like
// systemd's User= (ExecStartPre= included), with that user's HOME and USER.
import { expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { status, sv, tempProject, waitFor } from "../helpers/project.ts";


const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

test("user: nobody runs the service, pre_start and the command probe as nobody", async () => {
  const p = tempProject();
  chmodSync(p.root, 0o755);
  mkdirSync(join(p.root, "out"), { mode: 0o777 });
  chmodSync(join(p.root, "out"), 0o777);
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: ["sleep", "1000"],
      user: "nobody",
      hooks: { pre_start: ["sh", "-c", 'echo "$(id -u) $HOME $USER" > out/hook'] },
      health_check: { type: "command", command: ["sh", "-c", "id -u > out/probe"], interval: "100ms" },
    }),
  );
  const r = await sv(p.root, ["up"]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  const [web] = await status(p.root);
  expect(uidOf(web!.pid!)).toBe(65534);
  expect(readFileSync(join(p.root, "out/hook"), "utf8")).toBe("65534 /nonexistent nobody\n");
  await waitFor(() => {
    try {
      return readFileSync(join(p.root, "out/probe"), "utf8") === "65534\n";
    } catch {
      return false;
    }
  }, "the probe to run as nobody");
});

test("a hook that does not exist, run as another user, is said as such (not setpriv's exit 127)", async () => {
  const p = tempProject();
  chmodSync(p.root, 0o755);
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], user: "nobody", hooks: { pre_start: ["no-such-hook-program"] } }));
  const r = await sv(p.root, ["up"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("✘ web: pre_start hook could not run: command not found\n");
});
