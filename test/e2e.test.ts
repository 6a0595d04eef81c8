// End to end: the compiled binary on a temp copy of the example stack, as a user would drive it.
import { expect, test } from "bun:test";
import { cpSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { REPO, freePort, isAlive, isListening, status, sv, tempProject, waitFor } from "./helpers/project.ts";

test("the example stack comes up in order, reports status, and goes down leaving nothing behind", async () => {
  const p = tempProject();
  cpSync(join(REPO, "services"), join(p.root, "services"), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(p.root, "node_modules"));
  const env = { SV_DEMO_DB_PORT: String(freePort()), SV_DEMO_API_PORT: String(freePort()) };

  const up = await sv(p.root, ["up"], { env });
  expect(up.stderr).toBe("");
  expect(up.code).toBe(0);
  const order = up.stdout.trim().split("\n").map((l) => l.split(" ")[1]);
  expect(order).toEqual(["db", "migrate", "api", "worker"]);
  expect(await isListening(Number(env.SV_DEMO_API_PORT))).toBe(true);
  const res = await fetch(`http://127.0.0.1:${env.SV_DEMO_API_PORT}/health`);
  expect(res.status).toBe(200);

  const services = await status(p.root);
  expect(services.map((s) => [s.name, s.state, s.health])).toEqual([
    ["api", "running", "healthy"],
    ["db", "running", "healthy"],
    ["migrate", "completed", "unknown"],
    ["worker", "running", "healthy"],
  ]);
  const pids = services.map((s) => s.pid).filter((x): x is number => x !== null);
  expect(pids).toHaveLength(3);

  // The db is killed (as the OOM killer would); one reconcile pass, long after the sv up that started it
  // exited, knows how it ended and brings it back, with its data.
  const db = services.find((s) => s.name === "db")!;
  process.kill(db.pid!, "SIGKILL");
  await waitFor(() => !isAlive(db.pid!), "the db to die");
  const heal = await sv(p.root, ["reconcile"], { env });
  const crashed = "db was killed by SIGKILL";
  // A first crash is restarted at once: no backoff wait, no "restart in" line.
  expect(heal.stdout).toBe(`db: running -> restarting (${crashed})\ndb: restarting: ${crashed}\ndb: running (health check passed)\n`);
  expect(heal.code).toBe(0);
  const healed = await status(p.root);
  expect(healed.map((s) => [s.name, s.state, s.health, s.restarts])).toEqual([
    ["api", "running", "healthy", 0],
    ["db", "running", "healthy", 1],
    ["migrate", "completed", "unknown", 0],
    ["worker", "running", "healthy", 0],
  ]);
  expect((await fetch(`http://127.0.0.1:${env.SV_DEMO_API_PORT}/health`)).status).toBe(200);
  pids.splice(pids.indexOf(db.pid!), 1, healed.find((s) => s.name === "db")!.pid!);

  const down = await sv(p.root, ["down"], { env });
  expect(down.code).toBe(0);
  expect(down.stdout.trim().split("\n").map((l) => l.split(" ")[1])).toEqual(["worker", "api", "migrate", "db"]);
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
  expect(await isListening(Number(env.SV_DEMO_API_PORT))).toBe(false);
});
