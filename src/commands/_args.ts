// Argument fragments shared by the commands, spread into each command's `args`.
import type { ArgsDef } from "citty";

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
