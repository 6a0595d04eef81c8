// A normalised Service for backend tests: what config/normalize.ts would make of a bare definition.
import type { Service } from "../../src/config/schema.ts";

/** Service `name` running `command` in `cwd`, with every other key at its default; `over` replaces any. */
export function testService(name: string, command: string | string[], cwd: string, over: Partial<Service> = {}): Service {
  return {
    name,
    file: `services/${name}.yml`,
    path: [],
    description: "",
    type: "simple",
    command,
    cwd,
    env: {},
    instances: 1,
    dependsOn: {},
    after: [],
    before: [],
    healthCheck: { type: "process", host: "127.0.0.1", expectedStatus: 200, expectedExitCode: 0, intervalMs: 1000, timeoutMs: 2000, retries: 3, startPeriodMs: 0 },
    restart: "on-failure",
    restartDelayMs: 100,
    restartMaxDelayMs: 60_000,
    maxRestarts: 10,
    retryAfterError: false,
    essential: false,
    startDelayMs: 0,
    notifyDelayMs: 0,
    stopSignal: "SIGTERM",
    stopTimeoutMs: 10_000,
    limits: {},
    log: { maxSizeBytes: 10 << 20, keep: 5 },
    onFailure: [],
    hooks: {},
    ...over,
  };
}
