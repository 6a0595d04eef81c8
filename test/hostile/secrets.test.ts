// Secrets where they do not belong (issue 7): the variables sv.yml's api: section reads are not inherited
// by services, hooks or probes; and no error message quotes an env value.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type TempProject, sv, tempProject, waitFor } from "../helpers/project.ts";

const READ_TOKEN = "read-token-0123456789-secret";
const OPERATE_TOKEN = "operate-token-0123456789-secret";


function project(): TempProject {
  const p = tempProject();
  return p;
}

/** The NAME=value lines a process wrote with `env`. */
const envOf = (file: string) => new Map(readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

test("services, their hooks and their command probes do not inherit the variables the api: section reads", async () => {
  const p = project();
  p.write(
    "sv.yml",
    ["api:", "  tokens:", "    - { token: '${SV_API_READ_TOKEN}', role: read }", "    - { token: '${OPERATE:-${SV_API_OPERATE_TOKEN}}', role: operate }", ""].join("\n"),
  );
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: ["sh", "-c", "env > service.env; exec sleep 1000"],
      hooks: { pre_start: ["sh", "-c", "env > hook.env"] },
      health_check: { type: "command", command: ["sh", "-c", "env > probe.env"], interval: "100ms" },
    }),
  );
  const env = { SV_API_READ_TOKEN: READ_TOKEN, SV_API_OPERATE_TOKEN: OPERATE_TOKEN, UNRELATED: "kept" };
  const r = await sv(p.root, ["up"], { env });
  expect([r.code, r.stderr]).toEqual([0, ""]);
  for (const file of ["service.env", "hook.env", "probe.env"]) {
    const seen = await waitFor(() => {
      try {
        return envOf(join(p.root, file));
      } catch {
        return null;
      }
    }, `${file} written`);
    expect([file, seen.get("UNRELATED")]).toEqual([file, "kept"]);
    expect([file, seen.has("SV_API_READ_TOKEN"), seen.has("SV_API_OPERATE_TOKEN"), seen.has("OPERATE")]).toEqual([file, false, false, false]);
    expect(readFileSync(join(p.root, file), "utf8")).not.toContain("secret");
  }
});

test("env_file: /proc/self/environ does not put sv's environment into a message", async () => {
  const p = project();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], env_file: "/proc/self/environ" }));
  for (const command of ["up", "validate"]) {
    const r = await sv(p.root, [command], { env: { SV_API_READ_TOKEN: READ_TOKEN } });
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("/proc/self/environ:1:");
    expect(r.stdout + r.stderr).not.toContain(READ_TOKEN);
  }
  const status = await sv(p.root, ["status", "--json"], { env: { SV_API_READ_TOKEN: READ_TOKEN } });
  expect(status.stdout + status.stderr).not.toContain(READ_TOKEN);
});

test("a NUL byte in an env value is a config error naming the variable, not its value", async () => {
  const p = project();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], env: { PASSWORD: `hunter2\u0000${READ_TOKEN}` } }));
  const r = await sv(p.root, ["up"]);
  expect(r.stderr).toBe("services/web.yml:1:47: env.PASSWORD: must not contain a NUL byte\n✘ the configuration has a problem\n");
  expect(r.code).toBe(2);
});

test("an env file line with a NUL byte is located, not quoted", async () => {
  const p = project();
  p.write("web.env", `A=1\nTOKEN=${READ_TOKEN}\u0000more\n`);
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], env_file: "web.env" }));
  const r = await sv(p.root, ["up"]);
  expect(r.stderr).toBe("web.env:2:35: contains a NUL byte (not a KEY=VALUE file?)\n✘ the configuration has a problem\n");
  expect(r.code).toBe(2);
});
