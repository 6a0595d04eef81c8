// Procfile (heroku, foreman) -> sv: `name: command` lines, each a shell command run in the Procfile's directory.
// As foreman does: a `.env` next to it is every process's environment, and a process that uses $PORT gets
// port 5000 (or the .env's PORT) + 100 × its position in the file.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import type { ImportContext, Imported } from "./context.ts";
import { literal } from "./dollars.ts";
import { Draft } from "./draft.ts";
import { NameMap } from "./names.ts";
import { evidentPort } from "./ports.ts";

const LINE = /^([A-Za-z0-9_-]+):\s*(.*?)\s*$/;
const USES_PORT = /\$(?:PORT\b|\{PORT[}:-])/;
const FOREMAN_BASE_PORT = 5000;

export interface ProcfileEntry {
  name: string;
  command: string;
  line: number;
}

/** The entries of a Procfile, and the lines that are none (blank lines and # comments are neither). */
export function parseProcfile(text: string): { entries: ProcfileEntry[]; bad: { line: number; text: string }[] } {
  const entries: ProcfileEntry[] = [];
  const bad: { line: number; text: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*(#.*)?$/.test(raw)) return;
    const m = LINE.exec(raw.trim());
    if (m && m[2]) entries.push({ name: m[1]!, command: m[2], line: i + 1 });
    else bad.push({ line: i + 1, text: raw.trim() });
  });
  return { entries, bad };
}

/** PORT from a .env file's text (foreman's base port), if it is a port number. */
function basePort(dotenv: string | undefined): number {
  const m = dotenv === undefined ? null : /^\s*(?:export\s+)?PORT\s*=\s*["']?(\d{1,5})["']?\s*$/m.exec(dotenv);
  const n = m ? Number(m[1]) : NaN;
  return n >= 1 && n <= 65535 ? n : FOREMAN_BASE_PORT;
}

export function importProcfile(ctx: ImportContext): Imported {
  const { entries, bad } = parseProcfile(ctx.source.text);
  if (entries.length === 0) {
    const first = bad[0];
    throw new UsageError(`${ctx.source.shown}${first ? `:${first.line}` : ""} is not a Procfile: no "name: command" lines`, 'a Procfile has lines like "web: bundle exec puma -p $PORT"; check the format word');
  }
  for (const b of bad) ctx.skip(b.line, b.text.slice(0, 40), 'not a "name: command" line (foreman ignores it)');
  const dotenvPath = join(ctx.dir, ".env");
  const dotenv = existsSync(dotenvPath) ? readFileSync(dotenvPath, "utf8") : undefined;
  const base = basePort(dotenv);
  const names = new NameMap();
  const cwd = ctx.sourceCwd();
  return {
    services: entries.map((entry, index) => {
      const { name, why } = names.add(entry.name);
      if (why) ctx.skip(entry.line, entry.name, why, name);
      const draft = new Draft(name, { file: ctx.source.shown, line: entry.line, key: entry.name });
      if (entry.name === "release") draft.set("type", "oneshot"); // heroku runs it once per release
      // The shell expands the command when it runs, with the process's environment: sv must leave its $ alone.
      draft.set("command", literal(entry.command));
      if (cwd) draft.set("cwd", cwd);
      if (dotenv !== undefined) draft.set("env_file", ctx.path(".env"));
      // A ${VAR} in a Procfile is the shell's at run time, not sv's: only a literal port is evident.
      const port = USES_PORT.test(entry.command) ? base + 100 * index : evidentPort(entry.command, {});
      if (typeof port === "number" && entry.name !== "release") draft.set("port", port);
      return draft;
    }),
  };
}
