// sv: a project directory with services/NAME.yml; no daemon. Supervision (crash phases) is `sv watch` in the background.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../proc.ts";
import { countStates, type OpenOptions, parseJsonAfter, type ServiceSpec, type Session, type Supervisor, type Tool } from "./tool.ts";

/** The last `n` lines of a file, joined by " | " ("" if it cannot be read). */
export function tail(file: string, n: number): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-n).join(" | ");
  } catch {
    return "";
  }
}

/** A running `sv watch` started by startWatch. */
export interface Watch {
  proc: ReturnType<typeof Bun.spawn>;
  exited: boolean;
  /** SIGTERM (sv watch leaves services running), SIGKILL after 5 s; idempotent. */
  stop(): Promise<void>;
}

/**
 * Start `sv watch ARGS…` in `dir`, its stdout and stderr appended to `logFile`, and wait until it says it is
 * watching (not a TTY: one line per event, the first "watching N services", in text or JSON logs).
 */
export async function startWatch(bin: string, dir: string, env: Record<string, string | undefined>, logFile: string, timeoutMs: number, args: string[] = []): Promise<Watch> {
  const out = openSync(logFile, "a");
  const proc = Bun.spawn([bin, "watch", ...args], { cwd: dir, env, stdio: ["ignore", out, out] });
  closeSync(out);
  const w: Watch = {
    proc,
    exited: false,
    async stop() {
      if (w.exited) return;
      proc.kill("SIGTERM");
      const gone = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!gone) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
  };
  void proc.exited.then(() => (w.exited = true));
  const deadline = performance.now() + timeoutMs;
  while (!/watching \d+ service/.test(existsSync(logFile) ? readFileSync(logFile, "utf8") : "")) {
    if (w.exited) throw new Error(`sv watch exited at startup (code ${proc.exitCode}): ${tail(logFile, 3)}`);
    if (performance.now() > deadline) {
      await w.stop();
      throw new Error(`sv watch did not say it was watching within ${timeoutMs} ms: ${tail(logFile, 3)}`);
    }
    await Bun.sleep(5);
  }
  return w;
}

export function svTool(bin: string): Tool {
  return {
    name: "sv",
    unavailable: () => (existsSync(bin) ? null : `${bin} not found (run \`npm run build\`, or pass --sv PATH)`),
    version: async () => `sv ${(await run([bin, "--version"], { timeoutMs: 10_000 })).stdout.trim()} (${bin})`,
    async open(dir: string, services: ServiceSpec[], timeoutMs: number, options: OpenOptions = {}): Promise<Session> {
      mkdirSync(join(dir, "services"), { recursive: true });
      for (const s of services) {
        // `port` implies a tcp readiness check on 127.0.0.1:port; without it, the implied check is "the process runs".
        const port = options.declarePort === false ? "" : `port: ${s.port}\n`;
        const extra = options.restartDelay !== undefined ? `restart_delay: ${options.restartDelay}\n` : "";
        writeFileSync(join(dir, "services", `${s.name}.yml`), `command: ${JSON.stringify(s.argv)}\n${port}${extra}`);
      }
      const env = { ...process.env, NO_COLOR: "1" };
      const watchLog = join(dir, "watch.log");
      let watch: Watch | undefined;
      const stopWatch = async () => watch?.stop();

      return {
        dir,
        env,
        up: [bin, "up"],
        down: [bin, "down"],
        status: [bin, "status", "--json"],
        crashGroup: true,
        checkStatus(r) {
          if (r.code !== 0) return `sv status exited with code ${r.code}: ${r.stderr.trim().slice(0, 200)}`;
          const rows = (parseJsonAfter(r.stdout, "{") as { services: { name: string; state: string }[] }).services;
          const running = rows.filter((x) => x.state === "running").length;
          return rows.length === services.length && running === services.length ? null : `sv status shows ${running} of ${services.length} services running`;
        },
        async diagnose() {
          const r = await run([bin, "status", "--json"], { cwd: dir, env, timeoutMs });
          const watching = watch ? `; sv watch ${watch.exited ? `exited (${watch.proc.exitCode})` : "running"}, last lines: ${tail(watchLog, 3)}` : "";
          if (r.code !== 0) return `sv status: ${r.stderr.trim().slice(0, 300)}${watching}`;
          const rows = (parseJsonAfter(r.stdout, "{") as { services: { state: string; last_error: string | null }[] }).services;
          const error = rows.find((x) => x.last_error)?.last_error;
          return `sv status: ${countStates(rows.map((x) => x.state))}${error ? `; e.g. ${error}` : ""}${watching}`;
        },
        async supervise(): Promise<Supervisor> {
          if (!watch || watch.exited) watch = await startWatch(bin, dir, env, watchLog, timeoutMs);
          return { pid: watch.proc.pid, what: `sv watch (pid ${watch.proc.pid})` };
        },
        unsupervise: stopWatch,
        async close() {
          await stopWatch();
          await run([bin, "down"], { cwd: dir, env, timeoutMs });
        },
      };
    },
  };
}
