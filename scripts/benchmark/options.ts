// Command-line options of scripts/bench.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PROGRAM_KINDS, type ProgramKind } from "./program.ts";

export const REPO = resolve(import.meta.dir, "../..");
export const TOOL_NAMES = ["sv", "supervisord", "pm2", "runit"];

export interface Settings {
  /** Services for the up and down phases. */
  n: number;
  /** Services running during the status phase. */
  statusN: number;
  runs: number;
  warmup: number;
  statusRuns: number;
  statusWarmup: number;
  /** Kills per tool in the crash phases. */
  crashRuns: number;
  /** Samples per tool of rss and idle. */
  watchRuns: number;
  /** Length of one idle sample. */
  idleSeconds: number;
  tools: string[];
  phases: string[] | null;
  sv: string;
  pm2?: string;
  /** A directory holding runit's runsvdir, runsv and sv (default: Debian's package, unpacked into a cache). */
  runit?: string;
  program?: ProgramKind;
  /** Per command and per wait. */
  timeoutMs: number;
  /** Per phase and tool, all runs included. */
  phaseTimeoutMs: number;
  portBase: number;
  json?: string;
  keep: boolean;
}

export const HELP = `Usage: scripts/bench [OPTIONS]

Benchmarks sv against supervisord, PM2 and runit on a project of N tiny TCP services, in one run:
  up         from invoking the start command until every port accepts a connection   (N=--n)
             (runit: runsvdir already running with every service marked down, then runit's sv up)
  up-noport  the same for sv only, with no port: in the service files (so no tcp health check)
  status     latency of sv status --json / supervisorctl status / pm2 jlist / runit's sv status
             (N=--status-n running), each run right after a compiled Bun hello world (its floor)
  down       from invoking the stop command until every port refuses (and every service process has exited)
  crash      with N services supervised (sv watch in the background / supervisord / PM2's daemon / runsvdir,
             autorestart on), SIGKILL one service (sv: its process group) and time until its port refuses and
             then accepts connections again; a different service each run; each tool's default restart delay
  crash0     the same for sv only, with restart_delay: 0s in the service files (sv's default is 100ms)
  rss        VmRSS and USS (private memory) of the supervisor with N services (runit: runsvdir + every runsv):
             after 5 s, then after each crash/restart cycle
  idle       CPU the supervisor burns with N services and nothing happening, % of one core
and prints median, min and max per tool, with sv's targets (up <= 150 ms, status <= 25 ms, down <= 150 ms,
crash <= 100 ms, rss <= 60 MiB), then one side-by-side table of medians with the ratio sv/runit.

Options:
  --n N               services for up, up-noport, down, crash, crash0, rss and idle (default 50)
  --status-n N        services running during status (default 100)
  --runs N            timed runs of up, up-noport and down per tool (default 7)
  --warmup N          untimed runs before them (default 1)
  --status-runs N     timed runs of status per tool (default 30)
  --status-warmup N   untimed status runs first (default 3)
  --crash-runs N      timed kills per tool in crash and crash0 (default 15; each of the N services at most
                      once every 13 s, so sv's backoff is back at restart_delay for every kill)
  --watch-runs N      samples per tool of rss and idle (default 3)
  --idle-seconds S    length of one idle sample (default 10)
  --only LIST         tools to run, comma-separated: ${TOOL_NAMES.join(",")} (default all; missing ones are skipped)
  --skip LIST         tools to leave out
  --phases LIST       phases to run, comma-separated (default all)
  --sv PATH           the sv binary (default dist/sv; build it with npm run build)
  --pm2 PATH          the pm2 CLI (default pm2 on PATH, else /tmp/pm2/node_modules/.bin/pm2)
  --runit DIR         a directory with runit's runsvdir, runsv and sv (default: Debian's runit package, fetched
                      with apt-get download and unpacked with dpkg-deb -x into ~/.cache/sv-bench/runit on first
                      use; never installed system-wide, so runit's sv does not shadow ours)
  --program KIND      the service program: ${PROGRAM_KINDS.join(", ")} (default: the first that works, in that order)
  --timeout S         seconds allowed per command and per wait (default 30)
  --phase-timeout S   seconds allowed per phase and tool, all runs (default 600)
  --port-base PORT    first port; each tool and phase gets its own range (default 21000, below
                      the ephemeral range, where client sockets could take a port first)
  --quick             fewer runs, for a check that everything works (~4 min with all four tools): defaults
                      become --runs 3 --status-runs 10 --crash-runs 5 --watch-runs 2 --idle-seconds 5
  --json FILE         also write the results as JSON
  --keep              keep the temporary directories (configs and logs) for inspection
  -h, --help          this text

Install the peers outside the repo: apt-get install -y supervisor; npm install --prefix /tmp/pm2 pm2 (runit: see --runit).
`;

function count(value: string | undefined, fallback: number, flag: string, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function list(value: string | undefined, allowed: string[], flag: string): string[] | null {
  if (value === undefined) return null;
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i));
  if (bad.length) throw new Error(`${flag}: unknown ${bad.join(", ")} (choose from ${allowed.join(", ")})`);
  return items;
}

/** Parse argv; null when --help was asked for. Throws a one-line message on a usage error. */
export function parseOptions(argv: string[], phaseIds: string[]): Settings | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      n: { type: "string" },
      "status-n": { type: "string" },
      runs: { type: "string" },
      warmup: { type: "string" },
      "status-runs": { type: "string" },
      "status-warmup": { type: "string" },
      "crash-runs": { type: "string" },
      "watch-runs": { type: "string" },
      "idle-seconds": { type: "string" },
      only: { type: "string" },
      skip: { type: "string" },
      phases: { type: "string" },
      sv: { type: "string" },
      pm2: { type: "string" },
      runit: { type: "string" },
      program: { type: "string" },
      timeout: { type: "string" },
      "phase-timeout": { type: "string" },
      "port-base": { type: "string" },
      json: { type: "string" },
      keep: { type: "boolean" },
      quick: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return null;
  const only = list(values.only, TOOL_NAMES, "--only") ?? TOOL_NAMES;
  const skip = list(values.skip, TOOL_NAMES, "--skip") ?? [];
  if (values.program !== undefined && !PROGRAM_KINDS.includes(values.program as ProgramKind)) {
    throw new Error(`--program must be one of ${PROGRAM_KINDS.join(", ")}, got "${values.program}"`);
  }
  const quick = values.quick ?? false;
  const settings: Settings = {
    n: count(values.n, 50, "--n"),
    statusN: count(values["status-n"], 100, "--status-n"),
    runs: count(values.runs, quick ? 3 : 7, "--runs"),
    warmup: count(values.warmup, 1, "--warmup", 0),
    statusRuns: count(values["status-runs"], quick ? 10 : 30, "--status-runs"),
    statusWarmup: count(values["status-warmup"], 3, "--status-warmup", 0),
    crashRuns: count(values["crash-runs"], quick ? 5 : 15, "--crash-runs"),
    watchRuns: count(values["watch-runs"], quick ? 2 : 3, "--watch-runs"),
    idleSeconds: count(values["idle-seconds"], quick ? 5 : 10, "--idle-seconds"),
    tools: TOOL_NAMES.filter((t) => only.includes(t) && !skip.includes(t)),
    phases: list(values.phases, phaseIds, "--phases"),
    sv: resolve(values.sv ?? `${REPO}/dist/sv`),
    pm2: values.pm2 === undefined ? undefined : resolve(values.pm2),
    runit: values.runit === undefined ? undefined : resolve(values.runit),
    program: values.program as ProgramKind | undefined,
    timeoutMs: count(values.timeout, 30, "--timeout") * 1000,
    phaseTimeoutMs: count(values["phase-timeout"], 600, "--phase-timeout") * 1000,
    portBase: count(values["port-base"], 21000, "--port-base", 1024),
    json: values.json,
    keep: values.keep ?? false,
  };
  if (settings.tools.length === 0) throw new Error("no tools left to run (check --only and --skip)");
  return settings;
}
