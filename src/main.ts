// Entry point: pick the command, run it, map errors to exit codes. The only process.exit in sv.
import { type ArgsDef, type CommandDef, runCommand, showUsage } from "citty";
import { aliases, commands, descriptions } from "./commands/index.ts";
import { ConfigError, EXIT, SvError, UsageError, didYouMean } from "./errors.ts";
import { logger } from "./output/logger.ts";
import { output } from "./output/style.ts";
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

async function main(argv: string[]): Promise<number> {
  output.json = argv.includes("--json");
  output.quiet = argv.includes("--quiet") || argv.includes("-q");
  const lf = argv.findIndex((a) => a === "--log-format" || a.startsWith("--log-format="));
  if (lf !== -1) output.logFormat = (argv[lf]!.includes("=") ? argv[lf]!.split("=")[1] : argv[lf + 1]) === "json" ? "json" : "text";

  const first = argv[0];
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(rootUsage());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === "--version" || first === "-v" || first === "version") {
    console.log(VERSION);
    return EXIT.ok;
  }
  const name = aliases[first] ?? first;
  const load = commands[name];
  if (!load) {
    const guess = didYouMean(first, [...Object.keys(commands), ...Object.keys(aliases)]);
    throw new UsageError(`unknown command "${first}"`, guess ? `did you mean \`sv ${guess}\`?` : "run `sv --help` for the list of commands");
  }
  const cmd = await load();
  const rawArgs = argv.slice(1);
  if (rawArgs.includes("--help") || rawArgs.includes("-h")) {
    await showUsage(cmd, { meta: { name: "sv", version: VERSION } });
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
