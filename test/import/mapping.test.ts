// Less common forms of process-compose and supervisord files: what maps to what, and what is reported.
import { expect, test } from "bun:test";
import { sv, tempProject } from "../helpers/project.ts";
import { service, unmappedLines } from "./support.ts";

test("process-compose with disable_env_expansion: commands are the shell's, $ is protected from sv", async () => {
  const p = tempProject({
    "pc/process-compose.yml": [
      "version: '0.5'",
      "disable_env_expansion: true",
      "shell:",
      "  shell_command: bash",
      "  shell_argument: -c",
      "processes:",
      "  api:",
      "    command: 'echo ${HOME} $$ $PC_REPLICA_NUM ${PC_REPLICA_NUM}'",
      "    working_dir: ./app",
      "    environment: { PORT: '7001' }",
      "    replicas: 3",
      "    availability: { restart: exit_on_failure, exit_on_end: true }",
      "    liveness_probe: { http_get: { host: 10.0.0.5, port: 80, path: health }, success_threshold: 2 }",
      "  after_api:",
      "    command: 'true'",
      "    depends_on: { api: { condition: process_log_ready } }",
      "  unknown_one: { command: 'x', depends_on: { nobody: {} }, magic: 1 }",
      "",
    ].join("\n"),
  });
  const r = await sv(p.root, ["import", "process-compose", "pc/process-compose.yml"]);
  expect(r.code).toBe(0);
  expect(service(p.root, "api")).toEqual({
    command: "echo $${HOME} $$$ $PC_REPLICA_NUM $${SV_INSTANCE}",
    cwd: "./pc/app",
    instances: 3,
    port: 7001,
    health_check: { type: "http", url: "http://10.0.0.5:80/health" },
    restart: "no",
  });
  expect(service(p.root, "after_api")).toMatchObject({ depends_on: ["api"], cwd: "./pc" });
  expect(unmappedLines(r.stderr)).toEqual([
    "pc/process-compose.yml:3: shell: sv runs a string command with /bin/sh -c",
    "pc/process-compose.yml:12: processes.api.availability.restart: sv does not stop the project when one service fails: restart: no",
    "pc/process-compose.yml:12: processes.api.availability.exit_on_end: sv does not stop the project when one service ends",
    "pc/process-compose.yml:13: processes.api.liveness_probe.success_threshold: sv takes one success as ready",
    "pc/process-compose.yml:16: processes.after_api.depends_on.api.condition: sv has no log-line readiness: taken as started",
    'pc/process-compose.yml:17: processes.unknown_one.depends_on.nobody: "nobody" is not a process of this file: left out',
    "pc/process-compose.yml:17: processes.unknown_one.magic: not a process-compose key sv knows; not mapped",
  ]);
});

test("supervisord: quoting, %(…)s expansions, a program name sv must change, log rotation, retries", async () => {
  const p = tempProject({
    "etc/supervisord.conf": [
      "[program:Api.Server]",
      `command = /usr/bin/env "A B=1" printf '%%s\\n' $HOME %(program_name)s ; inline comment`,
      "directory = %(here)s/../srv",
      "environment = HOME=\"/home/api\", MODE='a,b'",
      "autorestart = unexpected",
      "startretries = 7",
      "stopsignal = QUIT",
      "stopwaitsecs = 30",
      "stdout_logfile = AUTO",
      "stdout_logfile_maxbytes = 0",
      "stdout_logfile_backups = 10",
      "process_name = api",
      "user = www-data",
      "priority = 5",
      "[program:other]",
      "command = sleep 1000",
      "autostart = false",
      "autorestart = sometimes",
      "",
    ].join("\n"),
  });
  const r = await sv(p.root, ["import", "supervisord", "etc/supervisord.conf"]);
  expect(r.code).toBe(0);
  expect(service(p.root, "api-server")).toEqual({
    command: ["/usr/bin/env", "A B=1", "printf", "%s\\n", "$HOME", "Api.Server"],
    cwd: "./srv",
    env: { HOME: "/home/api", MODE: "a,b" },
    user: "www-data",
    restart: "on-failure",
    max_restarts: 7,
    stop_signal: "SIGQUIT",
    stop_timeout: "30s",
    log: { keep: 10 },
  });
  expect(service(p.root, "other")).toEqual({ type: "on-demand", command: ["sleep", "1000"], cwd: "./etc", after: ["api-server"] });
  expect(unmappedLines(r.stderr)).toEqual([
    'etc/supervisord.conf:1: [program:Api.Server]: "Api.Server" is not an sv name ([a-z0-9][a-z0-9_-]{0,62}); named "api-server"',
    "etc/supervisord.conf:10: program:Api.Server.stdout_logfile_maxbytes: sv always rotates logs: log.max_size is its default (10M)",
    "etc/supervisord.conf:12: program:Api.Server.process_name: sv names the service api-server",
    'etc/supervisord.conf:18: program:other.autorestart: "sometimes" is not true, false or unexpected',
  ]);
  expect((await sv(p.root, ["validate"])).code).toBe(0);
});
