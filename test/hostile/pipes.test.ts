// A follower whose reader has gone exits at once, exit 0: `sv events -f | head -1`, and `sv logs -f` on a
// log that stays silent (no write to fail), both in a real shell pipeline under a deadline.
import { expect, test } from "bun:test";
import { SV, sv, tempProject } from "../helpers/project.ts";

/** Run `script` in sh from `root`; its exit code and how long it took, or null past `deadlineMs`. */
async function pipeline(root: string, script: string, deadlineMs: number): Promise<{ code: number | null; stdout: string; ms: number }> {
  const t0 = performance.now();
  const proc = Bun.spawn(["sh", "-c", script], { cwd: root, env: { ...process.env, NO_COLOR: "1", CI: "true", SV }, stdout: "pipe", stderr: "pipe", timeout: deadlineMs, killSignal: "SIGKILL" });
  const stdout = await new Response(proc.stdout).text();
  await proc.exited;
  return { code: proc.signalCode ? null : proc.exitCode, stdout, ms: performance.now() - t0 };
}

test("sv events -f | head -1 ends as soon as head has its line; sv exits 0", async () => {
  const p = tempProject({ "services/a.yml": "command: /bin/true\ntype: oneshot\n" });
  expect((await sv(p.root, ["up"])).code).toBe(0);
  // The shell waits for both sides: the pipeline ends only if sv notices head is gone.
  const r = await pipeline(p.root, `( "$SV" events -f -n 1 --json; echo "sv=$?" > sv.code ) | head -1; cat sv.code`, 5_000);
  expect(r.code).toBe(0);
  expect(r.ms).toBeLessThan(4_000);
  const [first, code] = r.stdout.trimEnd().split("\n");
  expect(JSON.parse(first!).service).toBe("a");
  expect(code).toBe("sv=0");
});

test("sv events -f with nothing to print ends once its reader is gone", async () => {
  const p = tempProject({ "services/a.yml": "command: /bin/true\ntype: oneshot\n" });
  const r = await pipeline(p.root, `( "$SV" events -f -n 0; echo "sv=$?" > sv.code ) | ( sleep 0.3; exit 0 ); wait; sleep 0.6; cat sv.code`, 5_000);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("sv=0\n");
});

test("sv logs -f on a silent log ends within a poll of its reader going away, exit 0", async () => {
  const p = tempProject({ "services/quiet.yml": "command: [/bin/sleep, '300']\n" });
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const r = await pipeline(p.root, `( "$SV" logs -f quiet; echo "sv=$?" > sv.code ) | ( sleep 0.3; exit 0 ); sleep 0.8; cat sv.code`, 5_000);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("sv=0\n");
  expect((await sv(p.root, ["down"])).code).toBe(0);
});
