// Overall health (issue 8): `sv health` (one line, exit 0 only when every wanted-up unit is ready), the
// summary line under `sv status`, and GET /health (no token needed; the details only with one).
import { expect, test } from "bun:test";
import { type TempProject, status, sv, tempProject, waitFor } from "../helpers/project.ts";
import { startWatch } from "../supervise/support.ts";

const TOKEN = "health-test-token-0123456789";

function project(): TempProject {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  p.write("services/api.yml", JSON.stringify({ command: ["sleep", "1000"], health_check: { type: "command", command: "test -e api-ok", interval: "100ms", retries: 1 } }));
  p.write("services/migrate.yml", JSON.stringify({ type: "oneshot", command: ["true"] }));
  p.write("services/broken.yml", JSON.stringify({ command: ["sh", "-c", "exit 3"], restart: "no" }));
  p.write("api-ok", "");
  return p;
}

test("down with nothing wanted up; healthy when all are ready (a completed oneshot is); degraded names who is not, and why", async () => {
  const p = project();
  expect(await sv(p.root, ["health"])).toEqual({ code: 1, stdout: "down\n", stderr: "" });

  expect((await sv(p.root, ["up", "web", "api", "migrate"])).code).toBe(0);
  expect(await sv(p.root, ["health"])).toEqual({ code: 0, stdout: "healthy\n", stderr: "" });
  expect((await sv(p.root, ["status"])).stdout.trimEnd().split("\n").at(-1)).toBe("overall: healthy (3 of 3 wanted up ready)");

  expect((await sv(p.root, ["up", "broken"])).code).toBe(1);
  Bun.spawnSync(["rm", "-f", `${p.root}/api-ok`]);
  await waitFor(async () => (await status(p.root)).find((s) => s.name === "api")!.health === "unhealthy", "api to turn unhealthy");
  const r = await sv(p.root, ["health"]);
  expect(r).toEqual({ code: 1, stdout: "degraded: api unhealthy, broken error\n", stderr: "" });
  expect(JSON.parse((await sv(p.root, ["health", "--json"])).stdout)).toEqual({
    status: "degraded",
    wanted: 4,
    ready: 2,
    problems: [
      { unit: "api", problem: "unhealthy" },
      { unit: "broken", problem: "error" },
    ],
    line: "degraded: api unhealthy, broken error",
  });
  expect((await sv(p.root, ["status"])).stdout.trimEnd().split("\n").at(-1)).toBe("overall: degraded: api unhealthy, broken error (2 of 4 wanted up ready)");
  expect((await sv(p.root, ["health", "--quiet"])).stdout).toBe("");
});

test("GET /health answers without a token (the word only, 200 or 503) and with one (which units, why)", async () => {
  const p = project();
  p.write("sv.yml", `api:\n  tokens: [{ token: ${TOKEN}, role: read }]\n`);
  expect((await sv(p.root, ["up", "web"])).code).toBe(0);
  const watch = startWatch(p.root, ["--interval", "200ms", "--listen", "127.0.0.1:0"]);
  try {
    await watch.waitOutput(/API on http:\/\/127\.0\.0\.1:\d+/, "watch to serve the API");
    const url = `${/API on (http:\/\/127\.0\.0\.1:\d+)/.exec(watch.output())![1]}/health`;
    const healthy = await fetch(url);
    expect([healthy.status, await healthy.json()]).toEqual([200, { status: "healthy" }]);

    expect((await sv(p.root, ["up", "broken"])).code).toBe(1);
    const open = await fetch(url);
    expect([open.status, await open.json()]).toEqual([503, { status: "degraded" }]);
    const withToken = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect([withToken.status, await withToken.json()]).toEqual([503, { status: "degraded", wanted: 2, ready: 1, problems: [{ unit: "broken", problem: "error" }], line: "degraded: broken error" }]);
    expect((await fetch(url, { method: "POST" })).status).toBe(405);
  } finally {
    await watch.stop();
  }
});
