// Entry point: pick the command, run it, map errors to exit codes. The only process.exit in sv.
import { type ArgsDef, type CommandDef, renderUsage, runCommand } from "citty";
import { stripVTControlCharacters as stripAnsi } from "node:util";
import { rootArgs } from "./commands/_args.ts";
import { aliases, commands, descriptions } from "./commands/index.ts";
import { ConfigError, EXIT, SvError, UsageError, didYouMean } from "./errors.ts";
import { logger } from "./output/logger.ts";
import { output, useColor } from "./output/style.ts";
import pkg from "../package.json" with { type: "json" };

const VERSION = pkg.version;

function rootUsage(): string {
  const width = Math.max(...Object.keys(descriptions).map((n) => n.length));
  const lines = Object.entries(descriptions).map(([n, d]) => `  ${n.padEnd(width)}  ${d}`);
  return [
    `sv ${VERSION}: a service manager for developers and small servers, without a daemon`,
    "",
    "USAGE  sv <command> [OPTIONS] [NAME...]",
    "",
    "COMMANDS",
    ...lines,
    "",
    "GLOBAL OPTIONS  --root DIR  --json  --quiet  --log-format text|json  --no-wait-lock  --help  --version",
    "Use `sv <command> --help` for more about a command.",
  ].join("\n");
}

/** Reject flags the command does not define (citty silently accepts them). */
async function checkFlags(name: string, cmd: CommandDef<any>, rawArgs: string[]): Promise<void> {
  const defs = (typeof cmd.args === "function" ? await cmd.args() : (cmd.args ?? {})) as ArgsDef;
  const known = new Set<string>(["help", "h"]);
  const booleans = new Set<string>();
  const shortBooleans = new Set<string>(["h"]);
  for (const [key, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    known.add(key);
    const aliases = [(def as { alias?: string | string[] }).alias ?? []].flat();
    for (const a of aliases) known.add(a);
    if (def.type === "boolean") {
      booleans.add(key);
      for (const a of aliases) if (a.length === 1) shortBooleans.add(a);
    }
  }
  for (const arg of rawArgs) {
    if (arg === "--") break;
    if (!arg.startsWith("-") || /^-\d/.test(arg)) continue;
    if (!arg.startsWith("--") && isShortCluster(arg.slice(1), known, shortBooleans)) continue;
    const flag = arg.replace(/^--?/, "").split("=")[0]!;
    if (known.has(flag) || (flag.startsWith("no-") && booleans.has(flag.slice(3)))) continue;
    const guess = didYouMean(flag, [...known].filter((k) => k.length > 1));
    throw new UsageError(`unknown option ${arg.split("=")[0]} for sv ${name}`, guess ? `did you mean --${guess}?` : `run \`sv ${name} --help\``);
  }
}

/** `-fq`, `-n5`, `-fn` (value next): short booleans, optionally ending in one short option with its value. */
function isShortCluster(cluster: string, known: Set<string>, shortBooleans: Set<string>): boolean {
  for (let i = 0; i < cluster.length; i++) {
    const c = cluster[i]!;
    if (!known.has(c)) return false;
    if (!shortBooleans.has(c)) return true;
  }
  return cluster.length > 0;
}

/** The flags every command takes (commands/_args.ts rootArgs), with whether a value follows: `--root` true, `-q` false. */
const GLOBAL_FLAGS: Record<string, boolean> = Object.fromEntries(
  Object.entries(rootArgs).flatMap(([key, def]) => {
    const takesValue = def.type !== "boolean";
    const short = "alias" in def ? [[`-${def.alias}`, takesValue]] : [];
    // --no-X only where X is on by default (--no-wait-lock), as rootArgs documents it.
    const negated = def.type === "boolean" && "default" in def && def.default === true ? [[`--no-${key}`, false]] : [];
    return [[`--${key}`, takesValue], ...short, ...negated];
  }),
);

/**
 * The command name and its arguments, global flags allowed before the name (`sv --root DIR status`, as
 * `git -C DIR` and `docker --context X ps` take them). Nothing after `--` is ever read as sv's: it is
 * passed on as it is (sv exec's command).
 */
function splitArgv(argv: string[]): { name?: string; args: string[]; ours: string[] } {
  const dash = argv.indexOf("--");
  const ours = dash === -1 ? argv : argv.slice(0, dash);
  const passed = dash === -1 ? [] : argv.slice(dash);
  const globals: string[] = [];
  let i = 0;
  for (; i < ours.length; i++) {
    const flag = ours[i]!.split("=")[0]!;
    if (!(flag in GLOBAL_FLAGS)) break;
    globals.push(ours[i]!);
    if (GLOBAL_FLAGS[flag] && !ours[i]!.includes("=") && i + 1 < ours.length) globals.push(ours[++i]!);
  }
  return { name: ours[i], args: [...globals, ...ours.slice(i + 1), ...passed], ours };
}

/** --json, --quiet and --log-format, read from sv's own arguments only (never a command's after `--`). */
function readOutputFlags(ours: string[]): void {
  output.json = ours.includes("--json");
  output.quiet = ours.includes("--quiet") || ours.includes("-q");
  const lf = ours.findIndex((a) => a === "--log-format" || a.startsWith("--log-format="));
  if (lf !== -1) {
    const value = ours[lf]!.includes("=") ? ours[lf]!.split("=")[1] : ours[lf + 1];
    if (value !== "json" && value !== "text") throw new UsageError(`--log-format must be text or json, not ${JSON.stringify(value ?? "")}`, "e.g. --log-format json");
    output.logFormat = value;
  }
}

async function main(argv: string[]): Promise<number> {
  const { name: first, args: rawArgs, ours } = splitArgv(argv);
  readOutputFlags(ours);
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(rootUsage());
    return first === undefined && !ours.includes("--help") ? EXIT.usage : EXIT.ok;
  }
  if (first === "--version" || first === "-v" || first === "version") {
    console.log(VERSION);
    return EXIT.ok;
  }
  if (first.startsWith("-")) {
    throw new UsageError(`unknown option ${first.split("=")[0]} before the command`, "only --root, --json, --quiet, --log-format and --no-wait-lock may come before it; run `sv --help`");
  }
  const name = aliases[first] ?? first;
  const load = commands[name];
  if (!load) {
    const guess = didYouMean(first, [...Object.keys(commands), ...Object.keys(aliases)]);
    throw new UsageError(`unknown command "${first}"`, guess ? `did you mean \`sv ${guess}\`?` : "run `sv --help` for the list of commands");
  }
  const cmd = await load();
  const ownArgs = rawArgs.includes("--") ? rawArgs.slice(0, rawArgs.indexOf("--")) : rawArgs;
  if (ownArgs.includes("--help") || ownArgs.includes("-h")) {
    const usage = await renderUsage(cmd, { meta: { name: "sv", version: VERSION } } as CommandDef<any>);
    console.log(useColor(process.stdout) ? usage : stripAnsi(usage));
    return EXIT.ok;
  }
  await checkFlags(name, cmd, rawArgs);
  await runCommand(cmd, { rawArgs });
  return EXIT.ok;
}

/** Print an error the way its kind deserves: SvErrors as one line plus hint, anything else whole. */
function report(error: unknown): number {
  if (error instanceof ConfigError) {
    if (output.logFormat === "json") for (const p of error.problems) logger.error(p);
    else process.stderr.write(`${error.problems.map((p) => `${p}\n`).join("")}`);
    logger.error(error.problems.length === 1 ? "the configuration has a problem" : error.message, error.hint);
    return error.exitCode;
  }
  if (error instanceof SvError) {
    if (error.message) logger.error(error.message, error.hint);
    return error.exitCode;
  }
  const cliError = error as { name?: string; code?: string; message?: string };
  if (cliError?.name === "CLIError") {
    logger.error(cliError.message ?? String(error), "run `sv --help`");
    return EXIT.usage;
  }
  // A bug: show everything, with the cause chain.
  console.error("sv: internal error (this is a bug):");
  console.error(error);
  for (let cause = (error as Error)?.cause; cause; cause = (cause as Error).cause) console.error("caused by:", cause);
  return EXIT.failed;
}

main(process.argv.slice(2)).then(
  // A command may set process.exitCode (sv exec passes on its child's code).
  (code) => process.exit(typeof process.exitCode === "number" && process.exitCode !== 0 ? process.exitCode : code),
  (error) => process.exit(report(error)),
);
