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
  /** Container phases: the engines to run them on, in order. */
  engines: ("podman" | "docker")[];
  /** Containers running during container-status. */
  containersN: number;
  /** Untimed runs through the recording proxy after each container phase's timed runs. */
  profileRuns: number;
}

export const ENGINE_NAMES = ["podman", "docker"] as const;

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

With --containers (or container phases named in --phases), sv's container backend on each --engine: a private
podman API service or dockerd on its own socket (test/helpers/engines.ts; image localhost/svbox:1, busybox httpd
publishing 127.0.0.1:PORT -> 80), stopped with everything in it after its last phase, on an error or on Ctrl-C.
Each phase is measured against the same API calls made by a minimal Bun script (scripts/benchmark/containers/
raw.ts, fixed API version, sv's own create body), in the same runs: the "api" rows.
  container-start   \`sv up web\` of a one-container project -> its host port accepts, vs raw.ts's POST
                    /containers/create + /start timed from before the create to the first accept (they
                    alternate; each container removed before the next)                          (<= 1.2x api)
  container-status  \`sv status --json\` with --containers-n running; api: raw.ts's one list call with the
                    project's label filter                                                        (<= 30 ms)
  container-heal    POST /containers/{id}/kill?signal=KILL under \`sv watch\` (5 containers, each killed at
                    most once every 13 s) -> its host port refuses, then accepts again; api: a raw
                    create+start right before each kill                                         (<= 1.5x api)
  container-heal0   the same with restart_delay: 0s
"HTTP answered" is shown beside each accept: dockerd's userland proxy accepts on the host port as soon as the
start call sets it up, long before the container listens. Then --profile-runs untimed runs per phase send sv's
engine traffic through a recording unix-socket proxy (sv.yml's docker.host is a symlink, re-pointed at it): each
request sv makes, when and for how long, sv's time before its first request and between requests, the engine's
die event, and the requests per \`sv status\`.

Options:
  --n N               services for up, up-noport, down, crash, crash0, rss and idle (default 50)
  --status-n N        services running during status (default 100)
  --runs N            timed runs of up, up-noport, down and container-start per tool (default 7)
  --warmup N          untimed runs before them (and before the crash and heal kills) (default 1)
  --status-runs N     timed runs of status and container-status per tool (default 30)
  --status-warmup N   untimed status runs first (default 3)
  --crash-runs N      timed kills per tool in crash, crash0, container-heal and container-heal0 (default 15;
                      each service at most once every 13 s, so sv's backoff is back at restart_delay for every kill)
  --watch-runs N      samples per tool of rss and idle (default 3)
  --idle-seconds S    length of one idle sample (default 10)
  --only LIST         tools to run, comma-separated: ${TOOL_NAMES.join(",")} (default all; missing ones are skipped)
  --skip LIST         tools to leave out
  --phases LIST       phases to run, comma-separated (default every process phase: up … idle)
  --containers        run the container phases (container-start, container-status, container-heal,
                      container-heal0) on each --engine; with --phases, besides the ones it names
  --engine LIST       engines for the container phases, in order: podman, docker (default both; needs root,
                      podman / dockerd, runc and busybox-static)
  --containers-n N    containers running during container-status (default 20)
  --profile-runs N    untimed runs through the recording proxy per container phase (default 3)
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

/** --phases plus, with --containers, every container phase (null: neither given, the default set). */
function containerPhases(named: string[] | null, added: string[]): string[] | null {
  if (added.length === 0) return named;
  return [...new Set([...(named ?? []), ...added])];
}

/** Parse argv; null when --help was asked for. Throws a one-line message on a usage error. */
export function parseOptions(argv: string[], phaseIds: string[], containerPhaseIds: string[] = []): Settings | null {
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
      containers: { type: "boolean" },
      engine: { type: "string" },
      "containers-n": { type: "string" },
      "profile-runs": { type: "string" },
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
    phases: containerPhases(list(values.phases, [...phaseIds, ...containerPhaseIds], "--phases"), values.containers ? containerPhaseIds : []),
    sv: resolve(values.sv ?? `${REPO}/dist/sv`),
    pm2: values.pm2 === undefined ? undefined : resolve(values.pm2),
    runit: values.runit === undefined ? undefined : resolve(values.runit),
    program: values.program as ProgramKind | undefined,
    timeoutMs: count(values.timeout, 30, "--timeout") * 1000,
    phaseTimeoutMs: count(values["phase-timeout"], 600, "--phase-timeout") * 1000,
    portBase: count(values["port-base"], 21000, "--port-base", 1024),
    json: values.json,
    keep: values.keep ?? false,
    engines: (list(values.engine, [...ENGINE_NAMES], "--engine") ?? [...ENGINE_NAMES]) as Settings["engines"],
    containersN: count(values["containers-n"], 20, "--containers-n"),
    profileRuns: count(values["profile-runs"], 3, "--profile-runs", 0),
  };
  if (settings.tools.length === 0) throw new Error("no tools left to run (check --only and --skip)");
  return settings;
}
