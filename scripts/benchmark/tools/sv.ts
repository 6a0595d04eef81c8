// sv: a project directory with services/NAME.yml; no daemon.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../proc.ts";
import { countStates, parseJsonAfter, type ServiceSpec, type Session, type Tool } from "./tool.ts";

export function svTool(bin: string): Tool {
  return {
    name: "sv",
    unavailable: () => (existsSync(bin) ? null : `${bin} not found (run \`npm run build\`, or pass --sv PATH)`),
    version: async () => `sv ${(await run([bin, "--version"], { timeoutMs: 10_000 })).stdout.trim()} (${bin})`,
    async open(dir: string, services: ServiceSpec[], timeoutMs: number): Promise<Session> {
      mkdirSync(join(dir, "services"), { recursive: true });
      for (const s of services) {
        // `port` implies a tcp readiness check on 127.0.0.1:port.
        writeFileSync(join(dir, "services", `${s.name}.yml`), `command: ${JSON.stringify(s.argv)}\nport: ${s.port}\n`);
      }
      const env = { ...process.env, NO_COLOR: "1" };
      return {
        dir,
        env,
        up: [bin, "up"],
        down: [bin, "down"],
        status: [bin, "status", "--json"],
        checkStatus(r) {
          if (r.code !== 0) return `sv status exited with code ${r.code}: ${r.stderr.trim().slice(0, 200)}`;
          const rows = (parseJsonAfter(r.stdout, "{") as { services: { name: string; state: string }[] }).services;
          const running = rows.filter((x) => x.state === "running").length;
          return rows.length === services.length && running === services.length ? null : `sv status shows ${running} of ${services.length} services running`;
        },
        async diagnose() {
          const r = await run([bin, "status", "--json"], { cwd: dir, env, timeoutMs });
          if (r.code !== 0) return `sv status: ${r.stderr.trim().slice(0, 300)}`;
          const rows = (parseJsonAfter(r.stdout, "{") as { services: { state: string; last_error: string | null }[] }).services;
          const error = rows.find((x) => x.last_error)?.last_error;
          return `sv status: ${countStates(rows.map((x) => x.state))}${error ? `; e.g. ${error}` : ""}`;
        },
        async close() {
          await run([bin, "down"], { cwd: dir, env, timeoutMs });
        },
      };
    },
  };
}
