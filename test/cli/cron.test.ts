// The README's crontab line under a real cron daemon (issue 8): Debian's cron, started here (apt starts
// no daemon), runs `sv reconcile` from an /etc/cron.d entry; a SIGKILLed wanted-up service is healed by
// it within ~70 s (cron fires at each minute tick). One test: it is slow by nature.
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { SV, isAlive, status, sv, tempProject, waitFor } from "../helpers/project.ts";

const CRON = "/usr/sbin/cron";
const PIDFILE = "/var/run/crond.pid";
const ENTRY = `/etc/cron.d/sv-test-${process.pid}`; // no dots: cron ignores such files
let ourCron: number | undefined;

afterAll(() => {
  rmSync(ENTRY, { force: true });
  if (ourCron !== undefined && isAlive(ourCron)) process.kill(ourCron, "SIGTERM");
});

/** The cron already running on this machine (there is one per machine), else one we start. */
async function ensureCron(): Promise<number> {
  const recorded = existsSync(PIDFILE) ? Number(readFileSync(PIDFILE, "utf8").trim()) : 0;
  if (recorded > 0 && isAlive(recorded) && readFileSync(`/proc/${recorded}/comm`, "utf8").trim() === "cron") return recorded;
  const proc = Bun.spawn(["setsid", CRON, "-f"], { stdio: ["ignore", "ignore", "ignore"] });
  ourCron = proc.pid;
  // setsid execs cron in place (it is not a group leader here), so this is cron's pid; it writes its pidfile when ready.
  await waitFor(() => existsSync(PIDFILE) && Number(readFileSync(PIDFILE, "utf8").trim()) === proc.pid, "cron to start");
  return proc.pid;
}

test("cron's sv reconcile heals a SIGKILLed service within about 70 s", async () => {
  expect(existsSync(CRON)).toBe(true); // .ci/run installs cron; a missing one is a failure, not a skip
  await ensureCron();
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const [before] = await status(p.root);

  // The README's line, with the user field an /etc/cron.d file needs.
  writeFileSync(ENTRY, `* * * * * root cd ${p.root} && ${SV} reconcile --quiet || true\n`, { mode: 0o644 });
  process.kill(before!.pid!, "SIGKILL");
  const killedAt = Date.now();
  // Read from the store file itself: an sv status here would observe (and record) the death first.
  const recorded = () => JSON.parse(readFileSync(`${p.root}/.sv/state/services.yml`, "utf8")).services.web;
  await waitFor(() => recorded().restarts === 1 && recorded().state === "running", "cron's reconcile to restart web", 75_000);
  const healedIn = Date.now() - killedAt;
  rmSync(ENTRY, { force: true });
  const [web] = await status(p.root);
  expect([web!.state, web!.restarts]).toEqual(["running", 1]);
  expect(web!.pid).not.toBe(before!.pid);
  expect(isAlive(web!.pid!)).toBe(true);
  expect(healedIn).toBeLessThan(75_000);
  // Nobody but cron ran a reconcile: the restart is its doing.
  const events = JSON.parse((await sv(p.root, ["events", "--json", "web"])).stdout).events as { to: string; reason: string }[];
  expect(events.map((e) => e.to)).toEqual(["starting", "running", "restarting", "starting", "running"]);
  Bun.spawnSync([SV, "down"], { cwd: p.root });
}, 120_000);
