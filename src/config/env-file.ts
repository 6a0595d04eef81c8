// env_file parsing: KEY=VALUE lines, as docker compose and dotenv read them.
import { type Env, expand } from "./interpolate.ts";

export interface EnvFileProblem {
  line: number;
  col: number;
  message: string;
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\", $: "$$" };

/**
 * KEY=VALUE lines; blank lines and `#` comments are skipped, `export ` is allowed. Values may be 'single-quoted'
 * (literal), "double-quoted" (\n \t \" \\ escapes) or bare (a ` #` starts a comment). ${VAR} is expanded in double-quoted
 * and bare values, from keys earlier in the file and then `env`; an unset variable expands to "" as in a shell.
 */
export function parseEnvFile(text: string, env: Env): { vars: Record<string, string>; problems: EnvFileProblem[] } {
  const vars: Record<string, string> = {};
  const problems: EnvFileProblem[] = [];
  // Keys of this file first, then `env`, looked up one name at a time: `env` may record what it is asked (the cache key).
  const scope: Env = new Proxy(vars, { get: (own, name: string) => (Object.hasOwn(own, name) ? own[name] : env[name]) });
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    // Said without the line: an env file holds secrets, and a problem is shown by status and the API.
    if (line.includes("\0")) return problems.push({ line: i + 1, col: line.indexOf("\0") + 1, message: "contains a NUL byte (not a KEY=VALUE file?)" });
    const m = LINE.exec(line);
    if (!m) return problems.push({ line: i + 1, col: 1, message: "expected KEY=VALUE" });
    const value = parseValue(m[2]!);
    if ("error" in value) return problems.push({ line: i + 1, col: line.length - m[2]!.length + 1, message: value.error });
    vars[m[1]!] = value.quote === "'" ? value.text : expand(value.text, scope, () => {});
  });
  return { vars, problems };
}

/** The text of one value and how it was quoted, or why it cannot be read. */
function parseValue(raw: string): { text: string; quote: string } | { error: string } {
  const quote = raw[0];
  if (quote !== '"' && quote !== "'") return { text: raw.replace(/(^|\s+)#.*$/, "").trim(), quote: "" };
  let text = "";
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === quote) {
      if (!/^\s*(#.*)?$/.test(raw.slice(i + 1))) return { error: `unexpected text after the closing ${quote}` };
      return { text, quote };
    }
    if (quote === '"' && c === "\\" && i + 1 < raw.length) text += ESCAPES[raw[++i]!] ?? `\\${raw[i]}`;
    else text += c;
  }
  return { error: `missing closing ${quote}` };
}
