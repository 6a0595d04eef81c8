// Durations and sizes: what a user writes -> milliseconds and bytes, also as loaded into a service.
import { expect, test } from "bun:test";
import { parseDuration, parseSize } from "../../src/config/fields.ts";
import { load } from "./helpers.ts";

test.each([
  [0, 0],
  [1.5, 1500],
  ["250ms", 250],
  ["2s", 2000],
  ["1m", 60_000],
  ["1h", 3_600_000],
  ["1m30s", 90_000],
  ["1.5s", 1500],
  ["10", 10_000],
  ["0.25", 250],
] as const)("parseDuration(%p) = %d ms", (input, ms) => {
  expect(parseDuration(input)).toBe(ms);
});

test.each([
  [4096, 4096],
  ["100", 100],
  ["100b", 100],
  ["512K", 512 * 1024],
  ["10M", 10 * 1024 ** 2],
  ["10MiB", 10 * 1024 ** 2],
  ["10mb", 10 * 1024 ** 2],
  ["1.5G", 1.5 * 1024 ** 3],
  ["2T", 2 * 1024 ** 4],
] as const)("parseSize(%p) = %d bytes", (input, bytes) => {
  expect(parseSize(input)).toBe(bytes);
});

test("defaults and written values as a loaded service has them", async () => {
  const plain = (await load({ "services/api.yml": "command: x\n" })).services.get("api")!;
  expect([plain.restartDelayMs, plain.restartMaxDelayMs, plain.stopTimeoutMs, plain.startDelayMs, plain.notifyDelayMs]).toEqual([100, 60_000, 10_000, 0, 0]);
  expect([plain.log, plain.limits]).toEqual([{ maxSizeBytes: 10 * 1024 ** 2, keep: 5 }, { memoryBytes: undefined, nofile: undefined, nproc: undefined }]);
  const yaml = "command: x\nstop_timeout: 1m30s\nrestart_delay: 2\nlimits: { memory: 512M, nofile: 1024 }\nlog: { max_size: 1G, keep: 2 }\n";
  const api = (await load({ "services/api.yml": yaml })).services.get("api")!;
  expect([api.stopTimeoutMs, api.restartDelayMs, api.limits.memoryBytes, api.limits.nofile, api.log]).toEqual([90_000, 2000, 512 * 1024 ** 2, 1024, { maxSizeBytes: 1024 ** 3, keep: 2 }]);
});
