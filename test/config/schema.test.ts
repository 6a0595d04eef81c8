// Every kind of bad value for every key of a service: the exact line a user sees.
import { describe, expect, test } from "bun:test";
import { apiProblems } from "./helpers.ts";

const F = "services/api.yml";

/** A service file: `command: x` on line 1, then `rest` from line 2 on. */
const svc = (...rest: string[]) => ["command: x", ...rest].join("\n") + "\n";

const DURATION = 'must be a duration like "250ms", "2s", "1m", "1h" or a number of seconds';
const COMMAND = "must be a string (run by /bin/sh -c) or a list (argv, no shell)";
const NAME_RULE = "(names match [a-z0-9][a-z0-9_-]{0,62})";

const cases: [string, string, string[]][] = [
  // command
  ["missing command", "description: x\n", [`${F}:1:1: command: is required`]],
  ["empty command string", "command: ''\n", [`${F}:1:10: command: must not be empty`]],
  ["blank command string", "command: '   '\n", [`${F}:1:10: command: must not be empty`]],
  ["empty command list", "command: []\n", [`${F}:1:10: command: must not be empty`]],
  ["command as a mapping", "command: { run: x }\n", [`${F}:1:10: command: ${COMMAND}`]],
  ["command as a number", "command: 5\n", [`${F}:1:10: command: ${COMMAND}`]],
  ["command left empty", "command:\n", [`${F}:1:1: command: is required`]],
  ["argv item a mapping", "command: [echo, { a: 1 }]\n", [`${F}:1:17: command.1: each argument must be a string`]],
  ["argv program empty", "command: ['', x]\n", [`${F}:1:10: command: the program (first item) must not be empty`]],
  // name, description, type
  ["invalid name:", svc("name: My_Api"), [`${F}:2:7: name: "My_Api" is not a valid service name ${NAME_RULE}`]],
  ["name too long", svc(`name: ${"a".repeat(64)}`), [`${F}:2:7: name: "${"a".repeat(64)}" is not a valid service name ${NAME_RULE}`]],
  ["name a list", svc("name: [a]"), [`${F}:2:7: name: must be a service name`]],
  ["description a list", svc("description: [a]"), [`${F}:2:14: description: must be a string`]],
  ["bad type", svc("type: daemon"), [`${F}:2:7: type: must be one of simple, oneshot, on-demand, multi-shot (got "daemon")`]],
  ["type a number", svc("type: 1"), [`${F}:2:7: type: must be one of simple, oneshot, on-demand, multi-shot`]],
  // cwd, env, env_file, user, group, instances
  ["empty cwd", svc("cwd: ''"), [`${F}:2:6: cwd: must not be empty`]],
  ["cwd a list", svc("cwd: [a]"), [`${F}:2:6: cwd: must be a string`]],
  ["env a list", svc("env: [A=1]"), [`${F}:2:6: env: must be a mapping of NAME: value`]],
  ["env value a mapping", svc("env:", "  A: { b: 1 }"), [`${F}:3:6: env.A: must be a string, number or boolean`]],
  ["env value empty", svc("env:", "  A:"), [`${F}:3:3: env.A: must be a string, number or boolean`]],
  ["env_file a number", svc("env_file: 1"), [`${F}:2:11: env_file: must be a path or a list of paths`]],
  ["env_file item empty", svc("env_file: ['']"), [`${F}:2:12: env_file.0: must not be empty`]],
  ["empty user", svc("user: ''"), [`${F}:2:7: user: must not be empty`]],
  ["group a number", svc("group: 1"), [`${F}:2:8: group: must be a string`]],
  ["instances zero", svc("instances: 0"), [`${F}:2:12: instances: must be a whole number of at least 1`]],
  ["instances fraction", svc("instances: 1.5"), [`${F}:2:12: instances: must be a whole number of at least 1`]],
  // port
  ["port zero", svc("port: 0"), [`${F}:2:7: port: must be a port number (1-65535)`]],
  ["port too big", svc("port: 65536"), [`${F}:2:7: port: must be a port number (1-65535)`]],
  ["port negative", svc("port: -1"), [`${F}:2:7: port: must be a port number (1-65535)`]],
  ["port a word", svc("port: http"), [`${F}:2:7: port: must be a port number (1-65535)`]],
  ["port a fraction", svc("port: 80.5"), [`${F}:2:7: port: must be a port number (1-65535)`]],
  ["port a list", svc("port: [80]"), [`${F}:2:7: port: must be a port number (1-65535)`]],
  // depends_on, after, before
  ["depends_on a string", svc("depends_on: db"), [`${F}:2:13: depends_on: must be a list of service names or a mapping of name -> { condition: started | healthy | completed }`]],
  ["depends_on bad name", svc("depends_on: [Db]"), [`${F}:2:14: depends_on.0: "Db" is not a valid service name ${NAME_RULE}`]],
  ["depends_on bad map key", svc("depends_on:", "  Db: {}"), [`${F}:3:3: depends_on.Db: "Db" is not a valid service name ${NAME_RULE}`]],
  ["bad condition", svc("depends_on:", "  db: { condition: ready }"), [`${F}:3:20: depends_on.db.condition: must be one of started, healthy, completed (got "ready")`]],
  ["unknown key in a depends_on entry", svc("depends_on:", "  db: { conditon: healthy }"), [`${F}:3:9: depends_on.db.conditon: unknown key "conditon" (did you mean "condition"?)`]],
  ["depends_on entry a string", svc("depends_on:", "  db: healthy"), [`${F}:3:7: depends_on.db: must be a mapping like { condition: healthy }`]],
  ["after a string", svc("after: db"), [`${F}:2:8: after: must be a list of service names`]],
  ["before item bad", svc("before: [x, 'A b']"), [`${F}:2:13: before.1: "A b" is not a valid service name ${NAME_RULE}`]],
  // health_check
  ["health_check a string", svc("health_check: http"), [`${F}:2:15: health_check: must be a mapping like { type: http, url: ... }`]],
  ["health_check bad type", svc("health_check:", "  type: grpc"), [`${F}:3:9: health_check.type: must be one of tcp, http, command, process`]],
  ["http check without url", svc("health_check:", "  type: http"), [`${F}:2:1: health_check.url: is required`]],
  ["http check bad url", svc("health_check:", "  url: localhost:8080/health"), [`${F}:3:8: health_check.url: must be an http(s) URL`]],
  ["http check ftp url", svc("health_check:", "  url: ftp://x/y"), [`${F}:3:8: health_check.url: must be an http(s) URL`]],
  ["bad expected_status", svc("health_check:", "  url: http://127.0.0.1/", "  expected_status: 700"), [`${F}:4:20: health_check.expected_status: must be an HTTP status code (100-599)`]],
  ["command check without command", svc("health_check:", "  type: command"), [`${F}:2:1: health_check.command: is required`]],
  ["command check empty command", svc("health_check:", "  command: []"), [`${F}:3:12: health_check.command: must not be empty`]],
  ["bad expected_exit_code", svc("health_check:", "  command: 'true'", "  expected_exit_code: 256"), [`${F}:4:23: health_check.expected_exit_code: must be an exit code (0-255)`]],
  ["tcp check bad port", svc("health_check:", "  type: tcp", "  port: 0"), [`${F}:4:9: health_check.port: must be a port number (1-65535)`]],
  ["tcp check empty host", svc("health_check:", "  host: ''", "  port: 1"), [`${F}:3:9: health_check.host: must not be empty`]],
  ["bad interval", svc("health_check:", "  interval: soon"), [`${F}:3:13: health_check.interval: ${DURATION}`]],
  ["negative timeout", svc("health_check:", "  timeout: -1"), [`${F}:3:12: health_check.timeout: must not be negative`]],
  ["retries zero", svc("health_check:", "  retries: 0"), [`${F}:3:12: health_check.retries: must be a whole number of at least 1`]],
  ["bad start_period", svc("health_check:", "  start_period: 5 minutes"), [`${F}:3:17: health_check.start_period: ${DURATION}`]],
  ["unknown key in health_check", svc("health_check:", "  type: http", "  url: http://x/", "  intervl: 1s"), [`${F}:5:3: health_check.intervl: unknown key "intervl" (did you mean "interval"?)`]],
  ["key of another probe type", svc("health_check:", "  type: http", "  url: http://x/", "  port: 80"), [`${F}:5:3: health_check.port: unknown key "port"`]],
  ["process check with a port", svc("health_check: { type: process, port: 1 }"), [`${F}:2:32: health_check.port: unknown key "port"`]],
  // restart, durations, counts, booleans, signals
  ["bad restart", svc("restart: sometimes"), [`${F}:2:10: restart: must be one of no, on-failure, always (got "sometimes")`]],
  ["restart false (a YAML boolean)", svc("restart: false"), [`${F}:2:10: restart: must be one of no, on-failure, always`]],
  ["bad restart_delay", svc("restart_delay: 1d"), [`${F}:2:16: restart_delay: ${DURATION}`]],
  ["restart_max_delay a list", svc("restart_max_delay: [1s]"), [`${F}:2:20: restart_max_delay: ${DURATION}`]],
  ["negative max_restarts", svc("max_restarts: -1"), [`${F}:2:15: max_restarts: must be a whole number of at least 0`]],
  ["retry_after_error a word", svc("retry_after_error: maybe"), [`${F}:2:20: retry_after_error: must be true or false`]],
  ["bad start_delay", svc("start_delay: 2 s"), [`${F}:2:14: start_delay: ${DURATION}`]],
  ["bad notify_delay", svc("notify_delay: fast"), [`${F}:2:15: notify_delay: ${DURATION}`]],
  ["bad stop_signal", svc("stop_signal: SIGFOO"), [`${F}:2:14: stop_signal: must be a signal name like SIGTERM, SIGINT or SIGHUP`]],
  ["stop_signal a number", svc("stop_signal: 15"), [`${F}:2:14: stop_signal: must be a signal name like SIGTERM, SIGINT or SIGHUP`]],
  ["bad stop_timeout", svc("stop_timeout: 10x"), [`${F}:2:15: stop_timeout: ${DURATION}`]],
  // limits, log
  ["bad memory limit", svc("limits: { memory: lots }"), [`${F}:2:19: limits.memory: must be a size like "512K", "10M", "1G" or a number of bytes`]],
  ["zero memory limit", svc("limits: { memory: 0 }"), [`${F}:2:19: limits.memory: must be at least 1 byte`]],
  ["nofile zero", svc("limits: { nofile: 0 }"), [`${F}:2:19: limits.nofile: must be a whole number of at least 1`]],
  ["unknown key in limits", svc("limits: { memroy: 1G }"), [`${F}:2:11: limits.memroy: unknown key "memroy" (did you mean "memory"?)`]],
  ["limits a list", svc("limits: [1G]"), [`${F}:2:9: limits: must be a mapping`]],
  ["bad log max_size", svc("log: { max_size: big }"), [`${F}:2:18: log.max_size: must be a size like "512K", "10M", "1G" or a number of bytes`]],
  ["negative log keep", svc("log: { keep: -1 }"), [`${F}:2:14: log.keep: must be a whole number of at least 0`]],
  ["unknown key in log", svc("log: { kep: 1 }"), [`${F}:2:8: log.kep: unknown key "kep" (did you mean "keep"?)`]],
  // on_failure, hooks
  ["on_failure a mapping", svc("on_failure: { webhook: http://x/ }"), [`${F}:2:13: on_failure: must be a list of actions like - webhook: URL or - command: ...`]],
  ["on_failure bad webhook", svc("on_failure:", "  - webhook: nope"), [`${F}:3:14: on_failure.0.webhook: must be an http(s) URL`]],
  ["on_failure both", svc("on_failure:", "  - { webhook: 'http://x/', command: y }"), [`${F}:3:5: on_failure.0: each action needs exactly one of webhook: URL or command: ...`]],
  ["on_failure neither", svc("on_failure:", "  - {}"), [`${F}:3:5: on_failure.0: each action needs exactly one of webhook: URL or command: ...`]],
  ["unknown key in an action", svc("on_failure:", "  - webhok: http://x/"), [`${F}:3:5: on_failure.0.webhok: unknown key "webhok" (did you mean "webhook"?)`]],
  ["unknown key in hooks", svc("hooks: { pre_strat: x }"), [`${F}:2:10: hooks.pre_strat: unknown key "pre_strat" (did you mean "pre_start"?)`]],
  ["empty hook command", svc("hooks: { post_stop: '' }"), [`${F}:2:21: hooks.post_stop: must not be empty`]],
  // unknown keys at the top
  ["unknown key with a suggestion", svc("helth_check: {}"), [`${F}:2:1: helth_check: unknown key "helth_check" (did you mean "health_check"?)`]],
  ["unknown key without one", svc("frobnicate: 1"), [`${F}:2:1: frobnicate: unknown key "frobnicate"`]],
  ["unknown key left empty", svc("dependson:"), [`${F}:2:1: dependson: unknown key "dependson" (did you mean "depends_on"?)`]],
  ["every unknown key, not just the first", svc("prot: 1", "comand: y"), [`${F}:2:1: prot: unknown key "prot" (did you mean "port"?)`, `${F}:3:1: comand: unknown key "comand" (did you mean "command"?)`]],
];

describe("a bad value is reported at its position with a short message", () => {
  test.each(cases)("%s", async (_title, yaml, expected) => {
    expect(await apiProblems(yaml)).toEqual(expected);
  });
});

const EVERY_KEY = [
  "name: api",
  "description: d",
  "type: simple",
  "command: x",
  "cwd: .",
  "env: { A: 1, B: true, C: s }",
  "user: nobody",
  "group: nogroup",
  "instances: 2",
  "port: 8080",
  "depends_on: []",
  "after: []",
  "before: []",
  "health_check: { type: http, url: 'http://127.0.0.1:8080/h', expected_status: 204, interval: 500ms, timeout: 1, retries: 2, start_period: 1m30s }",
  "restart: always",
  "restart_delay: 250ms",
  "restart_max_delay: 1h",
  "max_restarts: 0",
  "retry_after_error: true",
  "start_delay: 0",
  "notify_delay: 0.5",
  "stop_signal: int",
  "stop_timeout: 3s",
  "limits: { memory: 512MiB, nofile: 4096, nproc: 64 }",
  "log: { max_size: 1G, keep: 0 }",
  "on_failure: [{ webhook: 'https://h/x' }, { command: [notify, me] }]",
  "hooks: { pre_start: a, post_start: [b], pre_stop: c, post_stop: d }",
].join("\n");

const valid: [string, string][] = [
  ["a shell command", "command: bun run server.ts\n"],
  ["an argv list with numbers", "command: [sleep, 5]\n"],
  ["every key", `${EVERY_KEY}\n`],
  ["empty optional values count as unset", "command: x\nport:\nenv:\nhealth_check:\nhooks:\n"],
];

describe("valid definitions load", () => {
  test.each(valid)("%s", async (_title, yaml) => {
    expect(await apiProblems(yaml)).toEqual([]);
  });
});
