// sv killed at random instants of up, down and restart never loses a process: whatever it was doing,
// every live service process belongs to a unit the store records, no unit ever has two, and the next
// sv up / sv down bring the project to exactly 6 / 0 processes.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { status, sv, svBackground, tempProject, waitFor } from "../helpers/project.ts";

const SERVICES = 6;

/** Live (non-zombie) processes whose argv is exactly [/bin/sleep, marker], with their process group. */
function markerProcesses(marker: string): { pid: number; pgid: number }[] {
  const out: { pid: number; pgid: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0");
      if (argv[0] !== "/bin/sleep" || argv[1] !== marker) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] === "Z" || f[0] === "X") continue;
      out.push({ pid: Number(entry), pgid: Number(f[2]) });
    } catch {}
  }
  return out;
}

/** The process group of each unit the store records as live (running, starting, stopping). */
function recordedGroups(root: string): Map<number, string> {
  const text = readFileSync(`${root}/.sv/state/services.yml`, "utf8");
  const units = (JSON.parse(text) as { services: Record<string, { state: string; handle?: { pgid?: number } | null; pid?: number | null }> }).services;
  const groups = new Map<number, string>();
  for (const [name, u] of Object.entries(units)) {
    // Version 1 stores (sv 0.1) recorded the group leader as `pid`.
    const pgid = u.handle?.pgid ?? u.pid;
    if (pgid && ["running", "starting", "stopping"].includes(u.state)) groups.set(pgid, name);
  }
  return groups;
}

/** Every live process is accounted for by a recorded unit, and no unit has two. */
function expectAccounted(root: string, marker: string, context: string): void {
  const live = markerProcesses(marker);
  const groups = recordedGroups(root);
  const owners = live.map((p) => groups.get(p.pgid) ?? `UNRECORDED pid ${p.pid}`);
  expect({ context, owners: owners.filter((o) => o.startsWith("UNRECORDED")) }).toEqual({ context, owners: [] });
  expect({ context, duplicates: owners.length - new Set(owners).size }).toEqual({ context, duplicates: 0 });
}

test("SIGKILL, SIGTERM or SIGHUP of sv at 50 random instants of up/down/restart of 6 services leaves every process accounted for, and then exactly 6 or 0", async () => {
  const p = tempProject();
  const marker = `3600.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  for (let i = 0; i < SERVICES; i++) p.write(`services/s${i}.yml`, JSON.stringify({ command: ["/bin/sleep", marker], stop_timeout: "2s" }));
  const signals = ["SIGKILL", "SIGTERM", "SIGHUP"] as const;
  const ops = [["up"], ["down"], ["restart"]];
  const seen = { killed: 0, finished: 0 };
  for (let round = 0; round < 50; round++) {
    const op = ops[round % 3]!;
    const sig = signals[Math.floor(round / 3) % 3]!;
    // Bring the project into the state the op starts from: down before up, up before down and restart.
    if (op[0] === "up") await sv(p.root, ["down"]);
    else await sv(p.root, ["up"]);
    const run = svBackground(p.root, op);
    await Bun.sleep(Math.random() * 120);
    try {
      process.kill(run.pid, sig);
      seen.killed++;
    } catch {
      seen.finished++;
    }
    const result = await run.done;
    if (sig !== "SIGKILL" && result.code !== 0) expect([128 + { SIGTERM: 15, SIGHUP: 1 }[sig], 1]).toContain(result.code);
    // Gates whose sv died close at once; status then observes what is left.
    await sv(p.root, ["status"]);
    expectAccounted(p.root, marker, `round ${round}: ${sig} during ${op.join(" ")}`);
    if (round % 5 === 4) {
      expect((await sv(p.root, ["up"])).code).toBe(0);
      const up = markerProcesses(marker);
      expect(up).toHaveLength(SERVICES);
      const shown = (await status(p.root)).filter((s) => s.state === "running").map((s) => s.pid);
      expect(new Set(shown)).toEqual(new Set(up.map((u) => u.pid)));
      expect((await sv(p.root, ["down"])).code).toBe(0);
      await waitFor(() => markerProcesses(marker).length === 0, "every process gone after sv down");
      expect((await status(p.root)).every((s) => s.state === "stopped")).toBe(true);
    }
  }
  console.log(`interruptions: ${seen.killed} signalled mid-flight, ${seen.finished} had finished first`);
  expect(seen.killed).toBeGreaterThan(25);
}, 180_000);

test("SIGINT to a waiting sv up ends the wait with 130; what it started stays recorded and comes up", async () => {
  const p = tempProject();
  const marker = `3601.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  // Ready only after 3 s: sv up is still waiting when the signal comes.
  p.write("services/slow.yml", JSON.stringify({ command: ["/bin/sleep", marker], health_check: { type: "command", command: "test -e ready", interval: "100ms" } }));
  const run = svBackground(p.root, ["up"]);
  await waitFor(() => markerProcesses(marker).length === 1, "the service to run");
  process.kill(run.pid, "SIGINT");
  const r = await run.done;
  expect(r.code).toBe(130);
  expect(r.stderr).toContain("up interrupted by SIGINT: slow still starting (recorded; sv status shows it)");
  expect(await status(p.root)).toMatchObject([{ name: "slow", state: "starting", pid: markerProcesses(marker)[0]!.pid }]);
  p.write("ready", "");
  // An adopted start: the next sv to look finds it ready.
  await waitFor(async () => (await status(p.root))[0]!.state === "running", "the adopted start to be running");
  expect(markerProcesses(marker)).toHaveLength(1);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  test(`${signal} to a waiting sv down ends it with ${code}; the next sv keeps the stop's deadline and kills at once`, async () => {
    const p = tempProject();
    const marker = `3602.${process.pid}${Math.floor(Math.random() * 1e6)}`;
    // Ignores SIGTERM: only the SIGKILL at the end of stop_timeout stops it.
    p.write("services/stubborn.yml", JSON.stringify({ command: ["sh", "-c", `trap '' TERM; exec /bin/sleep ${marker}`], stop_timeout: "4s" }));
    expect((await sv(p.root, ["up"])).code).toBe(0);
    await waitFor(() => markerProcesses(marker).length === 1, "the service to run");
    const run = svBackground(p.root, ["down"]);
    await waitFor(async () => (await status(p.root))[0]!.state === "stopping", "the stop to begin");
    const stopBegan = Date.parse((await status(p.root))[0]!.since);
    process.kill(run.pid, signal);
    const r = await run.done;
    expect([r.code, r.stderr]).toEqual([code, `✘ down interrupted by ${signal}: stubborn still stopping (the next sv finishes the stop)\n  hint: run sv status to see where they are\n`]);
    expect(markerProcesses(marker)).toHaveLength(1);
    // Past the deadline the first sv set, the next one does not start a new 4 s wait: it kills, and says so.
    await waitFor(() => Date.now() > stopBegan + 4000, "the stop's deadline to pass", 10_000);
    const started = Date.now();
    const again = await sv(p.root, ["down"]);
    expect([again.code, again.stdout.trim()]).toEqual([0, "✓ stubborn stopped (stubborn did not stop within 4 s after SIGTERM and was killed with SIGKILL)"]);
    expect(Date.now() - started).toBeLessThan(4000);
    await waitFor(() => markerProcesses(marker).length === 0, "the service to be gone");
  });
}
