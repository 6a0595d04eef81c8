// The valibot schemas for what users write (services/*.yml, sv.yml) and the types they produce.
import { constants } from "node:os";
import * as v from "valibot";

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const DURATION_PATTERN = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
const SIZE_PATTERN = /^(\d+(\.\d+)?)\s*([kmgt]i?b?|b)?$/i;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNIT_BYTES: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "250ms", "2s", "1m30s", "1h" or a number of seconds -> milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") return value * 1000;
  let total = 0;
  for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

/** "512M", "10MiB", "1G", 4096 -> bytes. */
export function parseSize(value: string | number): number {
  if (typeof value === "number") return value;
  const [, n, unit = ""] = SIZE_PATTERN.exec(value.trim())!;
  return Math.round(Number(n) * UNIT_BYTES[unit.toLowerCase().charAt(0) === "b" ? "b" : unit.toLowerCase().charAt(0)]!);
}

const Duration = v.pipe(
  v.union(
    [
      v.pipe(v.number(), v.minValue(0, "must not be negative")),
      v.pipe(v.string(), v.regex(DURATION_PATTERN, "is not a duration")),
    ],
    'must be a duration like "250ms", "2s", "1m" or a number of seconds',
  ),
  v.transform(parseDuration),
);

const Size = v.pipe(
  v.union(
    [v.pipe(v.number(), v.integer(), v.minValue(1)), v.pipe(v.string(), v.regex(SIZE_PATTERN))],
    'must be a size like "512M", "1G" or a number of bytes',
  ),
  v.transform(parseSize),
);

const Name = v.pipe(v.string(), v.regex(NAME_PATTERN, "must match [a-z0-9][a-z0-9_-]{0,62}"));
const NonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));
// Numbers may arrive as strings after ${VAR} interpolation ("port: ${API_PORT:-8080}").
const NumberLike = v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number))], "must be a number");
const Port = v.pipe(NumberLike, v.integer("must be a whole number"), v.minValue(1, "must be 1-65535"), v.maxValue(65535, "must be 1-65535"));
const Count = v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0, "must not be negative"));

const SIGNALS = Object.keys(constants.signals);
const Signal = v.pipe(
  v.string(),
  v.transform((s) => (s.toUpperCase().startsWith("SIG") ? s.toUpperCase() : `SIG${s.toUpperCase()}`)),
  v.check((s) => SIGNALS.includes(s), "is not a signal name (e.g. SIGTERM, SIGINT, SIGQUIT)"),
);

const Command = v.union(
  [NonEmpty, v.pipe(v.array(v.string()), v.minLength(1, "must not be empty"))],
  "must be a string (run by /bin/sh -c) or a list (argv, no shell)",
);

export const CONDITIONS = ["started", "healthy", "completed"] as const;
export type Condition = (typeof CONDITIONS)[number];

const DependsOn = v.union(
  [
    v.array(Name),
    v.record(Name, v.nullish(v.strictObject({ condition: v.optional(v.picklist(CONDITIONS, `must be one of ${CONDITIONS.join(", ")}`)) }))),
  ],
  "must be a list of service names or a map of name -> { condition: started | healthy | completed }",
);

const probeTiming = {
  interval: v.optional(Duration, "1s"),
  timeout: v.optional(Duration, "2s"),
  retries: v.optional(v.pipe(Count, v.minValue(1, "must be at least 1")), 3),
  start_period: v.optional(Duration, 0),
};

const HealthCheckSchema = v.variant(
  "type",
  [
    v.strictObject({ type: v.literal("tcp"), host: v.optional(NonEmpty), port: v.optional(Port), ...probeTiming }),
    v.strictObject({
      type: v.literal("http"),
      url: v.pipe(v.string(), v.url("must be a URL like http://127.0.0.1:8080/health")),
      expected_status: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(599)), 200),
      ...probeTiming,
    }),
    v.strictObject({ type: v.literal("command"), command: Command, expected_exit_code: v.optional(Count, 0), ...probeTiming }),
    v.strictObject({ type: v.literal("process"), ...probeTiming }),
  ],
  "type must be one of tcp, http, command, process",
);

const Action = v.union(
  [v.strictObject({ webhook: v.pipe(v.string(), v.url("must be a URL")) }), v.strictObject({ command: Command })],
  "each action is { webhook: URL } or { command: ... }",
);

export const SERVICE_TYPES = ["simple", "oneshot", "on-demand", "multi-shot"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
export const RESTART_POLICIES = ["no", "on-failure", "always"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

export const ServiceSchema = v.strictObject({
  name: v.optional(Name),
  description: v.optional(v.string()),
  type: v.optional(v.picklist(SERVICE_TYPES, `must be one of ${SERVICE_TYPES.join(", ")}`), "simple"),
  command: Command,
  cwd: v.optional(NonEmpty),
  env: v.optional(v.record(v.string(), v.pipe(v.union([v.string(), v.number(), v.boolean()], "must be a string, number or boolean"), v.transform(String))), {}),
  env_file: v.optional(v.union([NonEmpty, v.array(NonEmpty)], "must be a path or a list of paths")),
  user: v.optional(NonEmpty),
  group: v.optional(NonEmpty),
  instances: v.optional(v.pipe(Count, v.minValue(1, "must be at least 1")), 1),
  port: v.optional(Port),
  depends_on: v.optional(DependsOn, []),
  after: v.optional(v.array(Name), []),
  before: v.optional(v.array(Name), []),
  health_check: v.optional(HealthCheckSchema),
  restart: v.optional(v.picklist(RESTART_POLICIES, `must be one of ${RESTART_POLICIES.join(", ")}`)),
  restart_delay: v.optional(Duration, "100ms"),
  restart_max_delay: v.optional(Duration, "1m"),
  max_restarts: v.optional(Count, 10),
  retry_after_error: v.optional(v.boolean(), false),
  start_delay: v.optional(Duration, 0),
  notify_delay: v.optional(Duration, 0),
  stop_signal: v.optional(Signal, "SIGTERM"),
  stop_timeout: v.optional(Duration, "10s"),
  limits: v.optional(v.strictObject({ memory: v.optional(Size), nofile: v.optional(v.pipe(Count, v.minValue(1))), nproc: v.optional(v.pipe(Count, v.minValue(1))) }), {}),
  log: v.optional(v.strictObject({ max_size: v.optional(Size, "10M"), keep: v.optional(Count, 5) }), {}),
  on_failure: v.optional(v.array(Action), []),
  hooks: v.optional(
    v.strictObject({ pre_start: v.optional(Command), post_start: v.optional(Command), pre_stop: v.optional(Command), post_stop: v.optional(Command) }),
    {},
  ),
});
export type RawService = v.InferOutput<typeof ServiceSchema>;

export const SettingsSchema = v.strictObject({
  include: v.optional(v.array(NonEmpty), []),
  state_dir: v.optional(NonEmpty, ".sv"),
  max_parallel: v.optional(v.pipe(Count, v.minValue(1, "must be at least 1")), 8),
  default_timeout: v.optional(Duration, "60s"),
  services: v.optional(v.record(v.string(), v.unknown()), {}),
});
export type Settings = v.InferOutput<typeof SettingsSchema>;

export type ProbeType = "tcp" | "http" | "command" | "process";
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
  startDelayMs: number;
  notifyDelayMs: number;
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  limits: { memoryBytes?: number; nofile?: number; nproc?: number };
  log: { maxSizeBytes: number; keep: number };
  onFailure: FailureAction[];
  hooks: Partial<Record<HookName, string | string[]>>;
}

/** A loaded project: settings plus services by name, in a stable order. */
export interface Project {
  root: string;
  stateDir: string;
  maxParallel: number;
  defaultTimeoutMs: number;
  services: Map<string, Service>;
}
