/// <reference path="../../completions/scripts.d.ts" />
import { defineCommand } from "citty";
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { UsageError, didYouMean } from "../errors.ts";
import { findRoot } from "../paths.ts";
import bash from "../../completions/sv.bash" with { type: "text" };
import zsh from "../../completions/_sv" with { type: "text" };
import fish from "../../completions/sv.fish" with { type: "text" };

const SCRIPTS: Record<string, string> = { bash, zsh, fish };
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const INSTALL_HINT = "e.g. `source <(sv completion bash)` in ~/.bashrc, or `sv completion fish > ~/.config/fish/completions/sv.fish`";

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

function parseFile(file: string): unknown {
  try {
    return Bun.YAML.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Service names for the shell, while the user presses TAB: fast and forgiving. Reads services/*.yml
 * (the stem, or `name:`), sv.yml's `services:` and its local `include:` files; never the network, never
 * validation, never an error, so a half-edited config still completes.
 */
export function completionNames(root: string): string[] {
  const names = new Set<string>();
  const addOne = (data: unknown, fallback: string) => {
    const name = isRecord(data) && typeof data.name === "string" && NAME.test(data.name) ? data.name : fallback;
    if (NAME.test(name)) names.add(name);
  };
  const addMap = (services: unknown) => isRecord(services) && Object.keys(services).forEach((key) => NAME.test(key) && names.add(key));
  const settings = parseFile(join(root, "sv.yml"));
  if (isRecord(settings)) addMap(settings.services);
  let entries: string[] = [];
  try {
    entries = readdirSync(join(root, "services")).sort();
  } catch {}
  for (const entry of entries) if (/\.ya?ml$/.test(entry)) addOne(parseFile(join(root, "services", entry)), entry.replace(/\.ya?ml$/, ""));
  const includes = isRecord(settings) && Array.isArray(settings.include) ? settings.include : [];
  for (const spec of includes) {
    if (typeof spec !== "string" || /^https?:\/\//i.test(spec) || spec.includes("${")) continue;
    for (const file of [...new Bun.Glob(spec).scanSync({ cwd: root, absolute: true })].sort()) {
      const data = parseFile(file);
      if (isRecord(data) && isRecord(data.services)) addMap(data.services);
      else addOne(data, basename(file).replace(/\.(ya?ml|json)$/, ""));
    }
  }
  return [...names];
}

export default defineCommand({
  meta: { name: "completion", description: "Print a completion script for bash, zsh or fish (commands, flags and service names)" },
  args: {
    shell: { type: "positional", required: false, description: "bash, zsh or fish", valueHint: "bash|zsh|fish" },
  },
  async run({ args }) {
    const shell = args.shell;
    // The scripts' fast path for service names; SV_ROOT carries a --root typed on the command line.
    if (shell === "__names") {
      let root: string;
      try {
        root = findRoot(process.cwd(), process.env.SV_ROOT || undefined);
      } catch {
        return;
      }
      const names = completionNames(root);
      if (names.length) console.log(names.join("\n"));
      return;
    }
    if (!shell) throw new UsageError("sv completion needs a shell: bash, zsh or fish", INSTALL_HINT);
    const script = SCRIPTS[shell];
    if (script === undefined) {
      const guess = didYouMean(shell, Object.keys(SCRIPTS));
      throw new UsageError(`no completion for shell "${shell}": sv knows bash, zsh and fish`, guess ? `did you mean \`sv completion ${guess}\`?` : INSTALL_HINT);
    }
    await Bun.write(Bun.stdout, script);
  },
});
