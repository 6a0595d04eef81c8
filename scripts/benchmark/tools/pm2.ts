// PM2: an ecosystem.json with one app per service (interpreter none); its own PM2_HOME, so its God daemon is ours.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeFailure, isGone, run, runOk, waitGone } from "../proc.ts";
import { countStates, type OpenOptions, parseJsonAfter, type ServiceSpec, type Session, type Tool } from "./tool.ts";

/** --pm2, else pm2 on PATH, else the documented side install (npm install --prefix /tmp/pm2 pm2). */
function findPm2(explicit?: string): string | null {
  if (explicit) return existsSync(explicit) ? explicit : null;
  return Bun.which("pm2") ?? (existsSync("/tmp/pm2/node_modules/.bin/pm2") ? "/tmp/pm2/node_modules/.bin/pm2" : null);
}

export function pm2Tool(explicit?: string): Tool {
  const pm2 = findPm2(explicit);
  return {
    name: "pm2",
    unavailable: () => (pm2 ? null : `${explicit ?? "pm2"} not found (npm install --prefix /tmp/pm2 pm2, or pass --pm2 PATH)`),
    version: async () => {
      // `pm2 --version` would start a daemon in ~/.pm2; read the package instead (bin/pm2 -> package.json).
      const pkg = join(realpathSync(pm2!), "../../package.json");
      return `pm2 ${existsSync(pkg) ? (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version : "?"} (${pm2})`;
    },
    async open(dir: string, services: ServiceSpec[], timeoutMs: number, options: OpenOptions = {}): Promise<Session> {
      if (options.restartDelay !== undefined) throw new Error("the benchmark sets no restart_delay for PM2 (its default is 0 ms)");
      const home = join(dir, "pm2home");
      mkdirSync(join(dir, "log"), { recursive: true });
      const eco = join(dir, "ecosystem.json");
      // PM2's defaults otherwise: restart_delay 0 (a setTimeout(0) after the exit event), min_uptime 1 s, max_restarts 16.
      const apps = services.map((s) => ({
        name: s.name,
        script: s.argv[0],
        args: s.argv.slice(1),
        interpreter: "none",
        exec_mode: "fork",
        autorestart: true,
        out_file: join(dir, "log", `${s.name}.log`),
        error_file: join(dir, "log", `${s.name}.log`),
      }));
      writeFileSync(eco, JSON.stringify({ apps }, null, 2));
      const env = { ...process.env, PM2_HOME: home };
      const opts = { cwd: dir, env, timeoutMs };
      const godPid = () => (existsSync(join(home, "pm2.pid")) ? Number(readFileSync(join(home, "pm2.pid"), "utf8").trim()) : NaN);
      // `pm2 kill`, then SIGKILL the God daemon by the pid it recorded, should it still be there.
      const stopDaemon = async () => {
        const pid = godPid();
        await run([pm2!, "kill"], opts);
        if (Number.isInteger(pid) && pid > 0 && !isGone(pid)) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
          await waitGone([pid], performance.now() + 5000);
        }
      };
      try {
        await runOk([pm2!, "ping"], opts); // starts the daemon (not timed)
      } catch (e) {
        await stopDaemon();
        throw new Error(`the PM2 daemon did not start: ${(e as Error).message}`);
      }
      return {
        dir,
        env,
        up: [pm2!, "start", eco],
        down: [pm2!, "stop", "all"],
        reset: [pm2!, "delete", "all"],
        status: [pm2!, "jlist"],
        crashGroup: false,
        async supervise() {
          const pid = godPid();
          if (!Number.isInteger(pid) || pid <= 0 || isGone(pid)) throw new Error(`no live PM2 God daemon (pid file ${join(home, "pm2.pid")}: ${pid})`);
          return { pid, what: `PM2 God daemon (pid ${pid})` };
        },
        checkStatus(r) {
          if (r.code !== 0) return `pm2 jlist exited with code ${r.code}`;
          const list = parseJsonAfter(r.stdout, "[") as { pm2_env?: { status?: string } }[];
          const online = list.filter((p) => p.pm2_env?.status === "online").length;
          return list.length === services.length && online === services.length ? null : `pm2 jlist shows ${online} of ${services.length} apps online`;
        },
        async diagnose() {
          const r = await run([pm2!, "jlist"], opts);
          try {
            const list = parseJsonAfter(r.stdout, "[") as { pm2_env?: { status?: string } }[];
            return `pm2 jlist: ${countStates(list.map((p) => p.pm2_env?.status ?? "?"))}`;
          } catch {
            return `pm2 jlist: ${describeFailure(r)}`;
          }
        },
        close: stopDaemon,
      };
    },
  };
}
