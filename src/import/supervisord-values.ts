// supervisord's value syntax: %(name)s expansions, environment=KEY="value",… pairs, and a command with %(process_num)d.
import { literal } from "./dollars.ts";
import { quoteWord } from "./shell-words.ts";

/** What %(…)s expands to in one program's section; `ENV_X` becomes sv's ${X} (both read the environment at load). */
export interface Expansions {
  here: string;
  program_name: string;
  group_name: string;
  numprocs: number;
  host_node_name: string;
}

const PERCENT = /%%|%\(([A-Za-z_][A-Za-z0-9_]*)\)(-?0?\d*)([sd])/g;
const PROCESS_NUM = /%\(process_num\)(0?\d*)d/g;
/** Does a value use the instance number? */
export const hasProcessNum = (value: string) => /%\(process_num\)0?\d*d/.test(value);

/**
 * `value` with supervisord's expansions in sv's terms; %(process_num)d is left for the caller, unknown names are
 * reported and kept. `$` is protected from sv's ${VAR} expansion first: a supervisord value means it literally.
 */
export function expandValue(value: string, x: Expansions, problem: (why: string) => void): string {
  return literal(value).replace(PERCENT, (all, name: string | undefined, _flags, kind) => {
    if (all === "%%") return "%";
    if (name === "process_num") return all;
    if (name!.startsWith("ENV_")) return `\${${name!.slice(4)}}`;
    if (name === "here" || name === "program_name" || name === "group_name" || name === "host_node_name") return x[name];
    if (name === "numprocs") return String(x.numprocs);
    problem(`%(${name})${kind} is not a supervisord expansion sv knows; kept as written`);
    return all;
  });
}

/** environment=A="1",B='two, three',C=3 -> pairs; undefined when it does not parse. */
export function parseEnvironment(value: string): Record<string, string> | undefined {
  const env: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*("((?:[^"\\]|\\.)*)"|'([^']*)'|([^,]*?))\s*(,|$)/gy;
  let rest = value.trim();
  if (rest === "") return env;
  let m: RegExpExecArray | null;
  let end = 0;
  re.lastIndex = 0;
  while (end < rest.length && (m = re.exec(rest))) {
    env[m[1]!] = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : (m[4] ?? m[5] ?? "");
    end = re.lastIndex;
    if (m[6] === "") break;
  }
  rest = rest.slice(end).trim();
  return rest === "" ? env : undefined;
}

/** Words with %(process_num)d as one shell command: each instance's number comes from SV_INSTANCE when it runs. */
export function instanceCommand(words: string[], start: number): string {
  const num = (width: string) => {
    const n = start === 0 ? "$SV_INSTANCE" : `$((SV_INSTANCE + ${start}))`;
    return width ? `"$(printf %${width}d ${n})"` : `"${n}"`;
  };
  const word = (w: string) => {
    let out = "";
    let last = 0;
    for (const m of w.matchAll(PROCESS_NUM)) {
      if (m.index! > last) out += quoteWord(w.slice(last, m.index));
      out += num(m[1]!);
      last = m.index! + m[0].length;
    }
    return out + (last < w.length ? quoteWord(w.slice(last)) : "");
  };
  return `exec ${words.map(word).join(" ")}`;
}
