// runit: one service directory per service (run = `exec PROGRAM PORT`, plus a `down` file), supervised by our own
// runsvdir; driven by runit's own `sv` binary by full path, so it never meets sv's dist/sv on PATH.
// Not installed system-wide: Debian's package is downloaded once and unpacked into a cache (see prepare).
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { childrenOf, describeFailure, isGone, killPids, run, runOk, waitGone } from "../proc.ts";
import { countStates, type OpenOptions, type ServiceSpec, type Session, type Supervisor, type Tool } from "./tool.ts";

const BINARIES = ["runsvdir", "runsv", "sv"];

/** Where the unpacked package is kept between runs: $XDG_CACHE_HOME/sv-bench/runit (default ~/.cache). */
function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "sv-bench", "runit");
}

const hasBinaries = (bin: string) => BINARIES.every((b) => existsSync(join(bin, b)));

/** `apt-get download runit` + `dpkg-deb -x` into a temp dir beside the cache, then renamed into place (no dpkg -i). */
async function unpackDebianPackage(cache: string): Promise<string> {
  const aptGet = Bun.which("apt-get");
  const dpkgDeb = Bun.which("dpkg-deb");
  if (!aptGet || !dpkgDeb) throw new Error("apt-get and dpkg-deb are needed to fetch Debian's runit package");
  mkdirSync(join(cache, ".."), { recursive: true });
  const tmp = mkdtempSync(join(cache, "..", "runit-download-"));
  try {
    const opts = { cwd: tmp, timeoutMs: 120_000 };
    let r = await run([aptGet, "download", "runit"], opts);
    if (r.code !== 0) {
      // A fresh machine has no package lists yet.
      await runOk([aptGet, "update", "-qq"], opts);
      r = await runOk([aptGet, "download", "runit"], opts);
    }
    const deb = readdirSync(tmp).find((f) => /^runit_.*\.deb$/.test(f));
    if (!deb) throw new Error(`apt-get download runit left no runit_*.deb in ${tmp}`);
    const root = join(tmp, "root");
    await runOk([dpkgDeb, "-x", join(tmp, deb), root], opts);
    const version = (await runOk([dpkgDeb, "-f", join(tmp, deb), "Version"], opts)).stdout.trim();
    writeFileSync(join(root, "version"), `${version}\n`);
    rmSync(cache, { recursive: true, force: true });
    renameSync(root, cache);
    return version;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The service's run script: exec, so the supervised pid is the program itself (as with the other tools). */
function runScript(argv: string[]): string {
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  return `#!/bin/sh\nexec ${argv.map(quote).join(" ")}\n`;
}

function isRunsv(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "latin1").trim() === "runsv";
  } catch {
    return false;
  }
}

/** "run: /d/s001: (pid 1) 5s" -> "run", for each line of `sv status`. */
const statesOf = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => l.split(":")[0]!);

export function runitTool(explicit?: string): Tool {
  // explicit: a directory holding runsvdir, runsv and sv (e.g. PREFIX/usr/bin of an unpacked package).
  const bin = explicit ?? join(cacheDir(), "usr", "bin");
  return {
    name: "runit",
    async prepare() {
      if (explicit || hasBinaries(bin)) return [];
      try {
        const v = await unpackDebianPackage(cacheDir());
        return [`runit: unpacked Debian's runit ${v} into ${cacheDir()} (not installed system-wide; its sv is used by full path)`];
      } catch (e) {
        return [`runit: could not fetch Debian's package: ${(e as Error).message}`];
      }
    },
    unavailable: () => (hasBinaries(bin) ? null : `no runsvdir, runsv and sv in ${bin} (pass --runit DIR, or let the benchmark unpack Debian's package: needs apt-get)`),
    version: async () => {
      const file = join(bin, "..", "..", "version");
      return `runit ${existsSync(file) ? readFileSync(file, "utf8").trim() : "?"} (${bin})`;
    },
    async open(dir: string, services: ServiceSpec[], timeoutMs: number, options: OpenOptions = {}): Promise<Session> {
      if (options.restartDelay !== undefined) throw new Error("runit has no restart delay setting (runsv waits 1 s only when ./run exits within 1 s of starting)");
      const svdir = join(dir, "service");
      const dirs = services.map((s) => join(svdir, s.name));
      for (const [i, s] of services.entries()) {
        mkdirSync(dirs[i]!, { recursive: true });
        writeFileSync(join(dirs[i]!, "run"), runScript(s.argv));
        chmodSync(join(dirs[i]!, "run"), 0o755);
        // `down`: runsv does not start the service by itself; `sv up` does.
        writeFileSync(join(dirs[i]!, "down"), "");
      }
      const svBin = join(bin, "sv");
      const sv = (...args: string[]) => [svBin, ...args, ...dirs];
      // runsvdir execs runsv through PATH: ours first. -P: each runsv in its own session, as Debian runs it.
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
      const out = openSync(join(dir, "runsvdir.out"), "a");
      const daemon = Bun.spawn([join(bin, "runsvdir"), "-P", svdir], { cwd: dir, env, stdio: ["ignore", out, out] });
      closeSync(out);
      let exited = false;
      void daemon.exited.then(() => (exited = true));
      const runsvs = new Set<number>();
      const remember = () => {
        for (const pid of childrenOf(daemon.pid)) runsvs.add(pid);
      };

      /** `sv exit` (TERM the service, then runsv exits), runsvdir SIGTERMed, then SIGKILL by pid for whatever is left. */
      const close = async () => {
        if (!exited) remember();
        await run(sv("exit"), { cwd: dir, env, timeoutMs });
        await waitGone([...runsvs], performance.now() + 5000).catch(() => 0);
        if (!exited) daemon.kill("SIGTERM");
        const gone = await Promise.race([daemon.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
        if (!gone) {
          daemon.kill("SIGKILL");
          await daemon.exited;
        }
        // Only pids that are still a runsv: one reaped by init could in principle be reused by now.
        await killPids([...runsvs].filter(isRunsv));
      };

      // Ready once every runsv answers: `sv status` says "down" for each.
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        if (exited) {
          await close();
          throw new Error(`runsvdir exited at startup (code ${daemon.exitCode}): ${readFileSync(join(dir, "runsvdir.out"), "utf8").trim().slice(-300)}`);
        }
        const r = await run(sv("status"), { cwd: dir, env, timeoutMs: 5000 });
        const states = statesOf(r.stdout);
        if (r.code === 0 && states.length === services.length && states.every((s) => s === "down")) break;
        if (performance.now() > deadline) {
          await close();
          throw new Error(`runsvdir did not start ${services.length} runsv within ${timeoutMs} ms: ${describeFailure(r)}`);
        }
        await Bun.sleep(20);
      }
      remember();

      return {
        dir,
        env,
        up: sv("up"),
        down: sv("down"),
        status: sv("status"),
        // runsv sleep(1)s in its main loop when ./run exits within 1 s of starting, and reads no `sv up` meanwhile:
        // back-to-back up/down cycles would time that guard, not the start.
        restartPauseMs: 1100,
        crashGroup: false,
        async supervise(): Promise<Supervisor> {
          if (exited) throw new Error(`runsvdir (pid ${daemon.pid}) exited`);
          remember();
          const pids = () => [daemon.pid, ...childrenOf(daemon.pid)];
          return { pid: daemon.pid, what: `runsvdir (pid ${daemon.pid}) + ${pids().length - 1} runsv`, pids };
        },
        checkStatus(r) {
          const states = statesOf(r.stdout);
          const running = states.filter((s) => s === "run").length;
          if (r.code !== 0 && running !== services.length) return `sv status (runit) exited with code ${r.code}`;
          return running === services.length ? null : `sv status (runit) shows ${running} of ${services.length} services run`;
        },
        async diagnose() {
          const r = await run(sv("status"), { cwd: dir, env, timeoutMs });
          const odd = r.stdout.split("\n").find((l) => l && !l.startsWith("run:"));
          return `runit sv status: ${countStates(statesOf(r.stdout))}${odd ? `; e.g. ${odd.trim()}` : ""}${isGone(daemon.pid) ? "; runsvdir exited" : ""}`;
        },
        close,
      };
    },
  };
}
