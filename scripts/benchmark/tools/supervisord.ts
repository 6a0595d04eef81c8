// supervisord: one supervisord.conf with a [program:NAME] per service; the daemon runs as our child (-n).
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeFailure, run } from "../proc.ts";
import { countStates, type OpenOptions, type ServiceSpec, type Session, type Tool } from "./tool.ts";

function config(dir: string, services: ServiceSpec[]): string {
  const head = [
    "[unix_http_server]",
    `file=${dir}/supervisor.sock`,
    "[supervisord]",
    `logfile=${dir}/supervisord.log`,
    `pidfile=${dir}/supervisord.pid`,
    `childlogdir=${dir}/log`,
    "nodaemon=true",
    "[rpcinterface:supervisor]",
    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    "[supervisorctl]",
    `serverurl=unix://${dir}/supervisor.sock`,
  ];
  // Defaults otherwise (startsecs=1, startretries=3, stopsignal=TERM): what a user who wrote this by hand would get.
  // autorestart=true (default: unexpected) so a crash is always restarted, as the crash phases need. supervisord
  // has no restart delay setting: it respawns an EXITED program on its main loop's next turn (a poll of up to 1 s).
  const programs = services.flatMap((s) => [
    `[program:${s.name}]`,
    `command=${s.argv.join(" ")}`,
    "autostart=false",
    "autorestart=true",
    "redirect_stderr=true",
    `stdout_logfile=${dir}/log/${s.name}.log`,
  ]);
  return `${[...head, ...programs].join("\n")}\n`;
}

export function supervisordTool(): Tool {
  const supervisord = Bun.which("supervisord");
  const supervisorctl = Bun.which("supervisorctl");
  return {
    name: "supervisord",
    unavailable: () => (supervisord && supervisorctl ? null : "supervisord/supervisorctl not on PATH (apt-get install -y supervisor)"),
    version: async () => `supervisord ${(await run([supervisord!, "--version"], { timeoutMs: 10_000 })).stdout.trim()}`,
    async open(dir: string, services: ServiceSpec[], timeoutMs: number, options: OpenOptions = {}): Promise<Session> {
      if (options.restartDelay !== undefined) throw new Error("supervisord has no restart delay setting");
      mkdirSync(join(dir, "log"), { recursive: true });
      const conf = join(dir, "supervisord.conf");
      writeFileSync(conf, config(dir, services));
      const ctl = (...args: string[]) => [supervisorctl!, "-c", conf, ...args];
      const out = openSync(join(dir, "supervisord.out"), "a");
      const daemon = Bun.spawn([supervisord!, "-n", "-c", conf], { cwd: dir, stdio: ["ignore", out, out] });
      closeSync(out);
      let exited = false;
      void daemon.exited.then(() => (exited = true));
      const close = async () => {
        if (!exited) await run(ctl("shutdown"), { cwd: dir, timeoutMs });
        const gone = await Promise.race([daemon.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
        if (!gone) {
          daemon.kill("SIGKILL");
          await daemon.exited;
        }
      };
      // Ready once supervisorctl can talk to it.
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        if (exited) {
          const log = readFileSync(join(dir, "supervisord.out"), "utf8").trim().split("\n").slice(-3).join(" | ");
          throw new Error(`supervisord exited at startup (code ${daemon.exitCode}): ${log}`);
        }
        const r = await run(ctl("pid"), { cwd: dir, timeoutMs: 5000 });
        if (r.code === 0 && /^\d+$/.test(r.stdout.trim())) break;
        if (performance.now() > deadline) {
          await close();
          throw new Error(`supervisord did not answer within ${timeoutMs} ms: ${describeFailure(r)}`);
        }
        await Bun.sleep(50);
      }
      return {
        dir,
        env: process.env,
        up: ctl("start", "all"),
        down: ctl("stop", "all"),
        status: ctl("status"),
        crashGroup: false,
        supervise: async () => ({ pid: daemon.pid, what: `supervisord (pid ${daemon.pid})` }),
        checkStatus(r) {
          const running = r.stdout.split("\n").filter((l) => /\sRUNNING\s/.test(l)).length;
          if (r.code !== 0 && running !== services.length) return `supervisorctl status exited with code ${r.code}`;
          return running === services.length ? null : `supervisorctl status shows ${running} of ${services.length} programs RUNNING`;
        },
        async diagnose() {
          const r = await run(ctl("status"), { cwd: dir, timeoutMs });
          const lines = r.stdout.trim().split("\n").filter(Boolean);
          const odd = lines.find((l) => !/\sRUNNING\s/.test(l));
          return `supervisorctl status: ${countStates(lines.map((l) => l.split(/\s+/)[1] ?? "?"))}${odd ? `; e.g. ${odd.trim()}` : ""}`;
        },
        close,
      };
    },
  };
}
