// Benchmark of `sv init` against Debian's tini, in the same run, each as PID 1 of a fresh PID namespace
// (unshare --pid --fork --mount-proc) running the same workload (sv: as its one service; tini: as its child):
//   reap     N orphans (re-parented to PID 1, `sleep` processes) are SIGKILLed at once: time until every one
//            has been reaped (its /proc entry gone), polled from here; and of that, the time from when the last
//            one had died (all zombies or gone: the kernel's part) until all were reaped (the init's part)
//   stop     SIGTERM to PID 1: time until the namespace's PID 1 has exited (unshare returns); the workload
//            exits on SIGTERM at once, so this is the init's own stop path (sv: ordered stop, state written)
//   rss/uss  the PID 1 process's resident and unique (private) memory, 500 ms after the workload is ready
// Several runs per tool, alternating; the table shows median (min-max).
//
// Usage: bun scripts/benchmark/init/index.ts [--sv dist/sv] [--tini tini] [--runs 7] [--orphans 100] [--json FILE]
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { nsChildren, procMemory, stateOf, waitUntil } from "./proc.ts";

const { values } = parseArgs({
  options: {
    sv: { type: "string", default: "dist/sv" },
    tini: { type: "string", default: "tini" },
    runs: { type: "string", default: "7" },
    orphans: { type: "string", default: "100" },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(readFileSync(import.meta.path, "utf8").split("\n").filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n"));
  process.exit(0);
}
const SV = resolve(values.sv!);
const TINI = Bun.which(values.tini!) ?? values.tini!;
const RUNS = Number(values.runs);
const ORPHANS = Number(values.orphans);
if (!existsSync(SV)) throw new Error(`no sv at ${SV}: bun run build, or pass --sv`);
if (!existsSync(TINI)) throw new Error(`no tini (${values.tini}): apt-get install tini, or pass --tini`);

/** The workload: N orphans (each `sleep 1000` forked by a shell that exits at once), then idle until SIGTERM. */
function workload(dir: string): string {
  return [
    "trap 'exit 0' TERM",
    "i=0",
    `while [ $i -lt ${ORPHANS} ]; do sh -c 'sleep 1000 & exit 0'; i=$((i+1)); done`,
    `echo ready > ${dir}/ready`,
    "while :; do sleep 1 & wait $!; done",
  ].join("\n");
}

interface Sample {
  /** From the SIGKILLs until every orphan was reaped. */
  reapMs: number;
  /** From when the last orphan had died (a zombie) until every one was reaped. */
  afterDeathMs: number;
  stopMs: number;
  rssKb: number;
  ussKb: number;
}

type Tool = "tini" | "sv";

/** One run of `tool`: start PID 1, wait for the orphans, measure memory, reap, then stop. */
async function runOnce(tool: Tool): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), `sv-bench-init-${tool}-`));
  const script = workload(dir);
  let argv: string[];
  if (tool === "sv") {
    mkdirSync(join(dir, "services"));
    // $$ would be sv's ${VAR} syntax; the script has none.
    writeFileSync(join(dir, "services/work.yml"), JSON.stringify({ command: script }));
    argv = [SV, "init"];
  } else argv = [TINI, "--", "/bin/sh", "-c", script];
  const log = openSync(join(dir, "out.log"), "w");
  const proc = Bun.spawn(["unshare", "--pid", "--fork", "--mount-proc", ...argv], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", log, log] });
  closeSync(log);
  try {
    const init = await waitUntil(() => Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "latin1").trim().split(" ")[0]) || null, 5000, "the namespace's PID 1");
    await waitUntil(() => existsSync(join(dir, "ready")), 10_000, "the workload's orphans");
    const orphans = await waitUntil(() => {
      const sleeps = nsChildren(init).filter((p) => p.comm === "sleep" && p.state !== "Z");
      return sleeps.length >= ORPHANS ? sleeps.map((p) => p.pid) : null;
    }, 5000, `${ORPHANS} orphans re-parented to PID 1`);
    await Bun.sleep(500);
    const mem = procMemory(init);

    const t0 = performance.now();
    for (const pid of orphans) process.kill(pid, "SIGKILL");
    // Dead: every orphan a zombie or gone (the kernel's part); reaped: every one gone (the init's part).
    let deadAt = 0;
    await waitUntil(
      () => {
        const states = orphans.map(stateOf);
        if (deadAt === 0 && states.every((st) => st === null || st === "Z")) deadAt = performance.now();
        return states.every((st) => st === null) || null;
      },
      10_000,
      "every orphan reaped",
      0,
    );
    const reapMs = performance.now() - t0;
    const afterDeathMs = performance.now() - deadAt;

    const t1 = performance.now();
    process.kill(init, "SIGTERM");
    await proc.exited;
    const stopMs = performance.now() - t1;
    return { reapMs, afterDeathMs, stopMs, rssKb: mem.rssKb, ussKb: mem.ussKb };
  } catch (e) {
    throw new Error(`${tool}: ${(e as Error).message}\n${readFileSync(join(dir, "out.log"), "utf8").slice(-2000)}`);
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})`;

const samples: Record<Tool, Sample[]> = { tini: [], sv: [] };
for (const tool of ["tini", "sv"] as Tool[]) await runOnce(tool); // warm-up: page cache, the sv project cache
for (let i = 0; i < RUNS; i++) for (const tool of ["tini", "sv"] as Tool[]) samples[tool].push(await runOnce(tool));

const versionOf = (argv: string[]) => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" }).stdout.toString().trim().split("\n")[0];
console.log(`sv init vs tini as PID 1 of a PID namespace; ${RUNS} runs each (after one warm-up), ${ORPHANS} orphans; median (min-max)`);
console.log(`  sv ${versionOf([SV, "--version"])} (${SV}); ${versionOf([TINI, "--version"])}; ${process.arch}, kernel ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}`);
const rows = [
  ["", "reap ms", "of it after death", "stop ms", "RSS MiB", "USS MiB"],
  ...(["tini", "sv"] as Tool[]).map((t) => [t, cell(samples[t].map((s) => s.reapMs)), cell(samples[t].map((s) => s.afterDeathMs)), cell(samples[t].map((s) => s.stopMs)), cell(samples[t].map((s) => s.rssKb / 1024)), cell(samples[t].map((s) => s.ussKb / 1024))]),
];
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((v, c) => v.padEnd(widths[c]!)).join("  "));
if (values.json) writeFileSync(values.json, `${JSON.stringify({ runs: RUNS, orphans: ORPHANS, samples }, null, 2)}\n`);
