// Argument fragments shared by the commands, spread into each command's `args`.
import type { ArgsDef } from "citty";
import { parseDuration } from "../config/fields.ts";
import { UsageError } from "../errors.ts";

export const rootArgs = {
  root: { type: "string", description: "Project root (default: nearest dir with sv.yml or services/; env SV_ROOT)", valueHint: "dir" },
  json: { type: "boolean", description: "Print one JSON document on stdout (logs go to stderr)" },
  quiet: { type: "boolean", alias: "q", description: "Print nothing but errors" },
  "log-format": { type: "enum", options: ["text", "json"], description: "Format of logs on stderr", default: "text" },
  "wait-lock": { type: "boolean", default: true, description: "Wait for the store lock", negativeDescription: "Exit 3 at once if the store is locked" },
} as const satisfies ArgsDef;

export const namesArg = {
  names: { type: "positional", required: false, description: "Service names (default: all)", valueHint: "name..." },
} as const satisfies ArgsDef;

/** The positional service names of a parsed command line. */
export function positionals(args: { _: string[] }): string[] {
  return args._.map(String);
}

/** A duration flag's value ("500ms", "2s", "1m30s", or bare seconds) in ms; a usage error otherwise. */
export function durationArg(flag: string, value: string, example = "2s"): number {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$|^\d+(\.\d+)?$/.test(value)) throw new UsageError(`${flag} ${value} is not a duration`, `use e.g. "500ms", "${example}", "1m"`);
  return parseDuration(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value);
}

/** `--interval` of a supervising command (watch, init): a duration of at least 50 ms. */
export function intervalArg(value: string, example?: string): number {
  const ms = durationArg("--interval", value, example);
  if (ms < 50) throw new UsageError("--interval must be at least 50ms");
  return ms;
}
