// `$` in imported strings. sv expands ${VAR} in every string when it loads a definition and reads $$ as "$".
// Compose and process-compose expand variables when they load a file too, but also the bare $VAR form and
// ${VAR:?err}; a Procfile's or supervisord's command is expanded (if at all) by a shell when it runs.

/** A problem with one reference, for the unmapped list. */
export type DollarProblem = (why: string) => void;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * A compose-interpolated string in sv's syntax: $VAR -> ${VAR}; ${VAR}, ${VAR:-d}, ${VAR-d} and $$ as they are;
 * ${VAR:?err} and ${VAR?err} -> ${VAR} (sv refuses an unset ${VAR} anyway); ${VAR:+x} has no sv form: it is
 * kept as literal text and reported.
 */
export function fromInterpolated(text: string, problem: DollarProblem): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "$") {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$$";
      i++;
    } else if (next === "{") {
      const end = closing(text, i + 2);
      if (end === -1) {
        problem(`unterminated "\${" kept as literal text`);
        out += `$$${text.slice(i + 1)}`;
        break;
      }
      out += reference(text.slice(i + 2, end), problem);
      i = end;
    } else {
      const m = NAME.exec(text.slice(i + 1));
      if (m) {
        out += `\${${m[0]}}`;
        i += m[0].length;
      } else out += "$"; // a lone $ is literal in compose and in sv
    }
  }
  return out;
}

/** The body of one `${…}` in sv's syntax. */
function reference(body: string, problem: DollarProblem): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) {
    problem(`"\${${body}}" is not a variable reference; kept as literal text`);
    return `$\${${body}}`;
  }
  const [, name, op, rest = ""] = m;
  if (op === undefined) return `\${${name}}`;
  if (op === ":-" || op === "-") return `\${${name}${op}${fromInterpolated(rest, problem)}}`;
  if (op === ":?" || op === "?") return `\${${name}}`;
  problem(`"\${${body}}" (a value when set) has no sv form; kept as literal text`);
  return `$\${${body}}`;
}

/** Index of the `}` closing a `${` whose body starts at `from` (nested ${…} skipped), or -1. */
function closing(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") [depth, i] = [depth + 1, i + 1];
    else if (text[i] === "}" && depth-- === 0) return i;
  }
  return -1;
}

/** Text a shell reads at run time, protected from sv's load-time expansion: `${` -> `$${`, `$$` -> `$$$`. */
export function literal(text: string): string {
  return text.replace(/\$(?=[{$])/g, "$$$$");
}
