// valibot building blocks for config values: pick-by-kind, strict mappings with "did you mean", numbers, durations, sizes.
// valibot's union and variant report a generic "invalid type" when every branch fails; these pick the branch the
// user meant from the kind of value written, so the message comes from that branch.
import * as v from "valibot";
import { type Kind, isRecord, kindOf } from "./kinds.ts";
import { closestKey, echo } from "./echo.ts";

export { type Kind, isRecord, kindOf } from "./kinds.ts";

/** A schema that always fails with `message`. */
export function fail(message: string): v.GenericSchema<unknown, never> {
  return v.custom<never>(() => false, message);
}

type Out<B> = B extends v.GenericSchema<unknown, infer O> ? O : never;

/** Validate with the branch for the value's kind; any other kind fails with `message`. */
export function byKind<const B extends Partial<Record<Kind, v.GenericSchema>>>(branches: B, message: string): v.GenericSchema<unknown, Out<B[keyof B]>> {
  const otherwise = fail(message);
  return v.lazy((input) => (branches[kindOf(input)] as v.GenericSchema | undefined) ?? otherwise) as never;
}

/**
 * A mapping with known keys. Every unknown key is reported (valibot's strictObject stops at the first), with the
 * closest known key as a hint; a key left empty (`port:`) counts as not set. Keys starting with `x-` are ignored,
 * as in docker compose: a place for YAML anchors (`x-defaults: &defaults`).
 */
export function strict<const E extends v.ObjectEntries>(entries: E, message = "must be a mapping") {
  const known = Object.keys(entries);
  return v.pipe(
    v.unknown(),
    v.check((input) => !Array.isArray(input), message), // looseObject takes a list for a mapping
    v.transform((input) => (isRecord(input) ? Object.fromEntries(Object.entries(input).filter(([k, x]) => x !== null || !known.includes(k))) : input)),
    v.looseObject(entries, message),
    v.rawCheck(({ dataset, addIssue }) => {
      const input = dataset.value;
      if (!isRecord(input)) return;
      for (const key of Object.keys(input)) {
        if (known.includes(key) || key.startsWith("x-")) continue;
        const guess = closestKey(key, known);
        addIssue({
          message: `unknown key "${echo(key)}"${guess ? ` (did you mean "${guess}"?)` : ""}`,
          path: [{ type: "object", origin: "key", input, key, value: input[key] }],
        });
      }
    }),
    // Only the known keys go on (not x- keys): what passes is exactly what the schema describes.
    v.transform((output) => Object.fromEntries(known.filter((k) => k in output).map((k) => [k, output[k]])) as v.InferOutput<v.ObjectSchema<E, undefined>>),
  );
}

/** A number in [min, max] (whole unless `fraction`); a numeric string counts too, since ${VAR} expansion yields strings. */
export function numeric(message: string, min: number, max = Number.MAX_SAFE_INTEGER, fraction = false): v.GenericSchema<unknown, number> {
  const number = v.pipe(
    v.number(message),
    v.check((n) => (fraction || Number.isInteger(n)) && n >= min && n <= max, message),
  );
  const fromString = v.pipe(v.string(), v.regex(/^\s*-?\d+(\.\d+)?\s*$/, message), v.transform(Number), number);
  return byKind({ number, string: fromString }, message);
}

/** A whole number of at least `min`. */
export const atLeast = (min: number) => numeric(`must be a whole number of at least ${min}`, min);

/** true/false, or the strings "true"/"false" (from ${VAR} expansion). */
export const Bool = byKind(
  { boolean: v.boolean(), string: v.pipe(v.picklist(["true", "false"], "must be true or false"), v.transform((s) => s === "true")) },
  "must be true or false",
);

/** A string that is not blank. */
export const NonEmpty = byKind({ string: v.pipe(v.string(), v.check((s) => s.trim() !== "", "must not be empty")) }, "must be a string");

/** A string of any content (numbers and booleans are taken as written). */
export const Text = byKind(
  { string: v.string(), number: v.pipe(v.number(), v.transform(String)), boolean: v.pipe(v.boolean(), v.transform(String)) },
  "must be a string",
);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PATTERN = /^\s*(\d+(\.\d+)?(ms|s|m|h)\s*)+$/;
const SECONDS_PATTERN = /^\s*\d+(\.\d+)?\s*$/;
const DURATION_MESSAGE = 'must be a duration like "250ms", "2s", "1m", "1h" or a number of seconds';

/** "250ms", "2s", "1m30s", "1h" or a number of seconds -> milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number" || SECONDS_PATTERN.test(value)) return Math.round(Number(value) * 1000);
  let total = 0;
  for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return Math.round(total);
}

/** The longest duration: no timer, delay or timeout needs more, and 1e308 or .inf would overflow every timer. */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;
const tooLong = (issue: v.BaseIssue<unknown>) => {
  const n = issue.input;
  const written = typeof n === "number" ? (n === Infinity ? ".inf" : String(n)) : echo(String(n));
  return `must be at most 1 year (got ${written})`;
};

/** A duration, in milliseconds; at most a year. */
export const Duration = byKind(
  {
    number: v.pipe(
      v.number(DURATION_MESSAGE), // .nan too
      v.minValue(0, "must not be negative"),
      v.check((n) => parseDuration(n) <= MAX_DURATION_MS, tooLong),
      v.transform((n: number) => parseDuration(n)),
    ),
    string: v.pipe(
      v.string(),
      v.check((s) => DURATION_PATTERN.test(s) || SECONDS_PATTERN.test(s), DURATION_MESSAGE),
      v.check((s) => parseDuration(s) <= MAX_DURATION_MS, tooLong),
      v.transform((s: string) => parseDuration(s)),
    ),
  },
  DURATION_MESSAGE,
);

const SIZE_PATTERN = /^\s*(\d+(\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i;
const UNIT_BYTES: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const SIZE_MESSAGE = 'must be a size like "512K", "10M", "1G" or a number of bytes';

/** "512M", "10MiB", "1G", 4096 -> bytes (units are powers of 1024). */
export function parseSize(value: string | number): number {
  if (typeof value === "number") return value;
  const [, n, , unit = "b"] = SIZE_PATTERN.exec(value)!;
  return Math.round(Number(n) * UNIT_BYTES[unit.charAt(0).toLowerCase()]!);
}

/** A size, in bytes; at least 1. */
export const Size = byKind(
  {
    number: v.pipe(v.number(), v.integer(SIZE_MESSAGE), v.minValue(1, "must be at least 1 byte")),
    string: v.pipe(v.string(), v.regex(SIZE_PATTERN, SIZE_MESSAGE), v.transform((s: string) => parseSize(s)), v.minValue(1, "must be at least 1 byte")),
  },
  SIZE_MESSAGE,
);
