// The valibot schemas for what users write (services/*.yml, sv.yml) and the types they produce.
import { constants } from "node:os";
import * as v from "valibot";
import { Bool, Duration, NonEmpty, Size, Text, atLeast, byKind, fail, isRecord, numeric, strict } from "./fields.ts";
import { echo } from "./echo.ts";
import { NETWORK_MODES, PROJECT_NAME, PULL_POLICIES, parseDockerHost, parsePort, parseVolume, type ContainerSpec } from "./container.ts";
import { HOST_NAME, HostsSchema, NetworksSchema, type HostSpec, type Networks } from "./hosts.ts";

/** The most instances of one service: each is a process (1e9 of them would exhaust memory, 1e5 the pids limit). */
export const MAX_INSTANCES = 10_000;

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const NAME_RULE = "names match [a-z0-9][a-z0-9_-]{0,62}";

/** The message for a name that does not match NAME_PATTERN. */
export const badName = (name: string) => `"${echo(name)}" is not a valid service name (${NAME_RULE})`;

const NameKey = v.pipe(v.string(), v.regex(NAME_PATTERN, (issue) => badName(String(issue.input))));
const Name = byKind({ string: NameKey }, "must be a service name");
const oneOf = <const T extends readonly string[]>(options: T) =>
  v.picklist(options, (issue) => `must be one of ${options.join(", ")}${typeof issue.input === "string" ? ` (got "${echo(issue.input)}")` : ""}`);

const Port = numeric("must be a port number (1-65535)", 1, 65535);
const HttpUrl = byKind({ string: v.pipe(v.string(), v.regex(/^https?:\/\/[^\s/]+/, "must be an http(s) URL")) }, "must be an http(s) URL");

const SIGNALS = Object.keys(constants.signals);
const SIGNAL_MESSAGE = "must be a signal name like SIGTERM, SIGINT or SIGHUP";
/** "SIGTERM", "sigterm", "TERM" -> "SIGTERM". */
const Signal = byKind(
  {
    string: v.pipe(
      v.string(),
      v.transform((s) => (s.toUpperCase().startsWith("SIG") ? s.toUpperCase() : `SIG${s.toUpperCase()}`)),
      v.check((s) => SIGNALS.includes(s), SIGNAL_MESSAGE),
    ),
  },
  SIGNAL_MESSAGE,
);

const COMMAND_MESSAGE = "must be a string (run by /bin/sh -c) or a list (argv, no shell)";
/** A shell string, or an argv list (numbers in it are taken as written: [sleep, 5]). */
const Command = byKind(
  {
    string: v.pipe(v.string(), v.check((s) => s.trim() !== "", "must not be empty")),
    list: v.pipe(
      v.array(byKind({ string: v.string(), number: v.pipe(v.number(), v.transform(String)) }, "each argument must be a string")),
      v.minLength(1, "must not be empty"),
      v.check((argv) => argv.length === 0 || argv[0]!.trim() !== "", "the program (first item) must not be empty"),
    ),
  },
  COMMAND_MESSAGE,
);

export const CONDITIONS = ["started", "healthy", "completed"] as const;
export type Condition = (typeof CONDITIONS)[number];

const DEPENDS_ON_MESSAGE = "must be a list of service names or a mapping of name -> { condition: started | healthy | completed }";
const DependsOn = byKind(
  {
    list: v.array(Name),
    mapping: v.record(
      NameKey,
      byKind(
        { null: v.pipe(v.null(), v.transform(() => ({ condition: undefined }))), mapping: strict({ condition: v.optional(oneOf(CONDITIONS)) }) },
        "must be a mapping like { condition: healthy }",
      ),
    ),
  },
  DEPENDS_ON_MESSAGE,
);

const probeTiming = {
  interval: v.optional(Duration, "1s"),
  timeout: v.optional(Duration, "2s"),
  retries: v.optional(atLeast(1), 3),
  start_period: v.optional(Duration, 0),
};

export const PROBE_TYPES = ["tcp", "http", "command", "process"] as const;
export type ProbeType = (typeof PROBE_TYPES)[number];

/** One kind of probe: its keys plus the timings; `type` may be left out when the keys say which kind it is. */
function probe<const T extends ProbeType, const E extends v.ObjectEntries>(type: T, entries: E) {
  return v.pipe(
    strict({ type: v.optional(v.literal(type)), ...entries, ...probeTiming }),
    v.transform((check) => ({ ...check, type })),
  );
}

const PROBES = {
  tcp: probe("tcp", { host: v.optional(NonEmpty), port: v.optional(Port) }),
  http: probe("http", { url: HttpUrl, expected_status: v.optional(numeric("must be an HTTP status code (100-599)", 100, 599), 200) }),
  command: probe("command", { command: Command, expected_exit_code: v.optional(numeric("must be an exit code (0-255)", 0, 255), 0) }),
  process: probe("process", {}),
};
/** Only timings: tune the implied check (tcp on `port`, else process). */
const ImpliedProbe = strict({ type: v.optional(v.undefined()), ...probeTiming });
const BadProbeType = v.looseObject({ type: fail(`must be one of ${PROBE_TYPES.join(", ")}`) }) as unknown as v.GenericSchema<unknown, never>;
const NotAMapping = fail("must be a mapping like { type: http, url: ... }");

/** The schema for a health_check: by its `type`, or guessed from its keys (url, command, host/port) when left out. */
function pickProbe(input: unknown) {
  if (!isRecord(input)) return NotAMapping;
  const type = input.type ?? ("url" in input ? "http" : "command" in input ? "command" : "host" in input || "port" in input ? "tcp" : undefined);
  if (type === undefined) return ImpliedProbe;
  return typeof type === "string" && Object.hasOwn(PROBES, type) ? PROBES[type as ProbeType] : BadProbeType;
}
const HealthCheckSchema = v.lazy(pickProbe);

/** An on_failure action: { webhook: URL } or { command: ... }. */
const Action = v.pipe(
  strict({ webhook: v.optional(HttpUrl), command: v.optional(Command) }),
  v.check((a) => (a.webhook === undefined) !== (a.command === undefined), "each action needs exactly one of webhook: URL or command: ..."),
);

export const SERVICE_TYPES = ["simple", "oneshot", "on-demand", "multi-shot"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
export const RESTART_POLICIES = ["no", "on-failure", "always"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

const EnvName = v.pipe(v.string(), v.regex(/^[^=\0]+$/, "is not a valid variable name"));
const EnvValue = byKind(
  { string: v.pipe(v.string(), v.check((s) => !s.includes("\0"), "must not contain a NUL byte")), number: v.pipe(v.number(), v.transform(String)), boolean: v.pipe(v.boolean(), v.transform(String)) },
  "must be a string, number or boolean",
);
/** Checked here for its form (a located error); parsed again by normalize, which knows the root. */
const PortEntry = byKind(
  { string: v.pipe(v.string(), v.rawCheck(({ dataset, addIssue }) => void (typeof dataset.value === "string" && typeof parsePort(dataset.value) === "string" && addIssue({ message: parsePort(dataset.value) as string })))), number: v.pipe(v.number(), v.transform(String)) },
  'each port must be a string like "8080:80"',
);
const VolumeEntry = byKind(
  { string: v.pipe(v.string(), v.rawCheck(({ dataset, addIssue }) => void (typeof dataset.value === "string" && typeof parseVolume(dataset.value, "/") === "string" && addIssue({ message: parseVolume(dataset.value, "/") as string })))) },
  'each volume must be a string like "./data:/data"',
);
const Names = byKind({ list: v.array(Name) }, "must be a list of service names");

/** Only the references of a definition: read from a broken definition too, so its unknown references are reported at once. */
export const RefsSchema = v.looseObject({ depends_on: v.optional(DependsOn, []), after: v.optional(Names, []), before: v.optional(Names, []) });
export type Refs = Pick<v.InferOutput<typeof RefsSchema>, "depends_on" | "after" | "before">;

const serviceEntries = {
  name: v.optional(Name),
  description: v.optional(Text),
  type: v.optional(oneOf(SERVICE_TYPES), "simple"),
  command: v.optional(Command),
  image: v.optional(NonEmpty),
  entrypoint: v.optional(Command),
  ports: v.optional(byKind({ list: v.array(PortEntry) }, 'must be a list like ["127.0.0.1:8080:80"]')),
  volumes: v.optional(byKind({ list: v.array(VolumeEntry) }, 'must be a list like ["./data:/data", "cache:/var/cache"]')),
  pull: v.optional(oneOf(PULL_POLICIES)),
  network_mode: v.optional(oneOf(NETWORK_MODES)),
  host: v.optional(v.pipe(NonEmpty, v.regex(HOST_NAME, "must be the name of a host in sv.yml's hosts:"))),
  package: v.optional(NonEmpty),
  install_path: v.optional(v.pipe(NonEmpty, v.check((p) => p.startsWith("/"), "must be an absolute path on the host"))),
  keep_releases: v.optional(atLeast(1)),
  pre_install: v.optional(Command),
  post_install: v.optional(Command),
  cwd: v.optional(NonEmpty),
  env: v.optional(byKind({ mapping: v.record(EnvName, EnvValue) }, "must be a mapping of NAME: value"), {}),
  env_file: v.optional(byKind({ string: NonEmpty, list: v.array(NonEmpty) }, "must be a path or a list of paths")),
  user: v.optional(NonEmpty),
  group: v.optional(NonEmpty),
  instances: v.optional(v.pipe(atLeast(1), v.maxValue(MAX_INSTANCES, `must be at most ${MAX_INSTANCES} (each instance is a process)`)), 1),
  port: v.optional(Port),
  depends_on: v.optional(DependsOn, []),
  after: v.optional(Names, []),
  before: v.optional(Names, []),
  health_check: v.optional(HealthCheckSchema),
  restart: v.optional(oneOf(RESTART_POLICIES)),
  restart_delay: v.optional(Duration, "100ms"),
  restart_max_delay: v.optional(Duration, "1m"),
  max_restarts: v.optional(atLeast(0), 10),
  retry_after_error: v.optional(Bool, false),
  essential: v.optional(Bool, false),
  start_delay: v.optional(Duration, 0),
  start_timeout: v.optional(Duration),
  notify_delay: v.optional(Duration, 0),
  stop_signal: v.optional(Signal, "SIGTERM"),
  stop_timeout: v.optional(Duration, "10s"),
  limits: v.optional(strict({ memory: v.optional(Size), nofile: v.optional(atLeast(1)), nproc: v.optional(atLeast(1)) }), {}),
  log: v.optional(strict({ max_size: v.optional(Size, "10M"), keep: v.optional(atLeast(0), 5) }), {}),
  on_failure: v.optional(byKind({ list: v.array(Action) }, "must be a list of actions like - webhook: URL or - command: ..."), []),
  hooks: v.optional(strict({ pre_start: v.optional(Command), post_start: v.optional(Command), pre_stop: v.optional(Command), post_stop: v.optional(Command) }), {}),
};
const MAPPING_MESSAGE = "must be a mapping like command: ...";
/** A container (image:) runs its image's command unless told otherwise; a process needs its command. */
const ContainerServiceSchema = strict(serviceEntries, MAPPING_MESSAGE);
const ProcessServiceSchema = strict({ ...serviceEntries, command: Command }, MAPPING_MESSAGE);
/** A container runs its image's command, a package its manifest's; anything else needs `command:`. */
const given = (input: Record<string, unknown>, key: string) => input[key] !== undefined && input[key] !== null;
export const ServiceSchema = v.lazy((input) => (isRecord(input) && (given(input, "image") || given(input, "package")) ? ContainerServiceSchema : ProcessServiceSchema));
export type RawService = v.InferOutput<typeof ContainerServiceSchema>;

export const API_ROLES = ["read", "operate"] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** A bearer token of the HTTP API: inline or in a file, with a role. */
const ApiToken = v.pipe(
  strict({
    token: v.optional(v.pipe(NonEmpty, v.check((t) => t.length >= 16, "must be at least 16 characters"))),
    token_file: v.optional(NonEmpty),
    role: v.optional(oneOf(API_ROLES), "read"),
  }),
  v.check((t) => (t.token === undefined) !== (t.token_file === undefined), "each token needs exactly one of token: or token_file:"),
);

/** sv.yml `api:`, the HTTP API of `sv watch --listen`. */
const ApiSchema = strict({
  listen: v.optional(Text),
  tokens: v.optional(byKind({ list: v.array(ApiToken) }, "must be a list like - { token: ..., role: operate }"), []),
  tls: v.optional(strict({ cert: NonEmpty, key: NonEmpty })),
  allow_insecure: v.optional(Bool, false),
});

export const IncludeSchema = byKind({ string: v.pipe(NonEmpty, v.transform((s) => [s])), list: v.array(NonEmpty) }, "must be a list of files, globs or URLs");

export const SettingsSchema = strict({
  include: v.optional(IncludeSchema, []),
  state_dir: v.optional(NonEmpty, ".sv"),
  max_parallel: v.optional(atLeast(1), 32),
  default_timeout: v.optional(Duration, "60s"),
  api: v.optional(ApiSchema, {}),
  name: v.optional(v.pipe(v.string(), v.regex(PROJECT_NAME, "must be a project name: [a-z0-9][a-z0-9_.-]{0,62} (it names containers, networks and volumes)"))),
  docker: v.optional(strict({ host: v.optional(v.pipe(NonEmpty, v.check((h) => typeof parseDockerHost(h, "/") !== "string", "must be unix:///path/to/socket (or a path)"))) }), {}),
  plugins: v.optional(byKind({ list: v.array(NonEmpty) }, 'must be a list of modules: ["./plugins/my-backend.ts", "an-npm-package"]'), []),
  hosts: v.optional(HostsSchema, {}),
  networks: v.optional(NetworksSchema, {}),
  services: v.optional(v.unknown()), // checked by the loader, one service at a time
});
export type Settings = v.InferOutput<typeof SettingsSchema>;

/** The API settings, paths resolved against the project root. */
export interface ApiSettings {
  listen?: string;
  tokens: { token?: string; tokenFile?: string; role: ApiRole }[];
  tls?: { certFile: string; keyFile: string };
  allowInsecure: boolean;
  /** The variables the `api:` section reads (tokens, paths): never passed on to services, hooks or probes. */
  secretEnv: string[];
}

export interface HealthCheck {
  type: ProbeType;
  host: string;
  port?: number;
  url?: string;
  expectedStatus: number;
  command?: string | string[];
  expectedExitCode: number;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export type FailureAction = { webhook: string } | { command: string | string[] };
export type HookName = "pre_start" | "post_start" | "pre_stop" | "post_stop";

/** A validated, normalised service: what the engine works with. */
export interface Service {
  name: string;
  /** Where it is defined: the file, and the key path of the definition inside it. */
  file: string;
  path: (string | number)[];
  description: string;
  type: ServiceType;
  command: string | string[];
  cwd: string;
  env: Record<string, string>;
  user?: string;
  group?: string;
  instances: number;
  port?: number;
  dependsOn: Record<string, Condition | undefined>;
  after: string[];
  before: string[];
  healthCheck: HealthCheck;
  restart: RestartPolicy;
  restartDelayMs: number;
  restartMaxDelayMs: number;
  maxRestarts: number;
  retryAfterError: boolean;
  /** Under `sv init`: when it ends for good, the container ends, with its exit code. */
  essential: boolean;
  startDelayMs: number;
  /** How long a live, starting unit may fail its probes; undefined: the project's default_timeout. */
  startTimeoutMs?: number;
  notifyDelayMs: number;
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  limits: { memoryBytes?: number; nofile?: number; nproc?: number };
  log: { maxSizeBytes: number; keep: number };
  onFailure: FailureAction[];
  hooks: Partial<Record<HookName, string | string[]>>;
  /** Present for a container (image:): what the container backend creates. */
  container?: ContainerSpec;
  /** Present for a service on a host (host:): where, and the package it deploys there. */
  remote?: RemoteSpec;
}

/** A service on a host over ssh; with `package`, a release of a tarball deployed under `installPath`. */
export interface RemoteSpec {
  host: string;
  package?: PackageSpec;
}

/** A package service's tarball (read and checked at load) and how it is installed. */
export interface PackageSpec {
  file: string;
  sha256: string;
  /** The release directory's name: `<version>-<sha8>`. */
  release: string;
  version: string;
  installPath: string;
  keepReleases: number;
  preInstall?: string | string[];
  postInstall?: string | string[];
  scripts: { preStart: boolean; postStart: boolean; healthCheck: boolean };
}

/** A loaded project: settings plus services by name, in a stable order. */
export interface Project {
  root: string;
  stateDir: string;
  maxParallel: number;
  defaultTimeoutMs: number;
  services: Map<string, Service>;
  api: ApiSettings;
  /** Names the project's containers, networks and volumes, and labels them. */
  name: string;
  /** The engine's socket from sv.yml `docker.host`; absent: DOCKER_HOST, then the usual sockets. */
  dockerSocket?: string;
  /** Modules of more backends (resolved paths, or package names), imported at run time. */
  plugins: string[];
  /** sv.yml `hosts:` by name (`local`, when declared, is this machine as the hosts reach it). */
  hosts: Map<string, HostSpec>;
  /** sv.yml `networks:`: which address of a host another host reaches it at. */
  networks: Networks;
}
