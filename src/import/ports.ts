// The port a process serves, when its definition makes it evident: a PORT variable, or a listen flag of its command.
// Only these forms count: a wrong port would be probed (and checked free) where nothing listens.

/** A port as written: digits, or a ${VAR} / ${VAR:-8080} reference that sv expands. */
const VALUE = String.raw`(\d{1,5}|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-\d{1,5})?\})`;
const ADDRESS = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-fA-F:]+\])?:`;
const FLAGS: RegExp[] = [
  new RegExp(String.raw`(?:^|\s)--(?:http-)?port(?:=|\s+)${VALUE}(?=\s|$)`),
  new RegExp(String.raw`(?:^|\s)(?:--bind|--listen|-b)(?:=|\s+)(?:[\w.-]+|\[[0-9a-fA-F:]+\])?:${VALUE}(?=\s|$)`),
  new RegExp(String.raw`(?:^|\s)-p\s+${ADDRESS}${VALUE}(?=\s|$)`),
];

/** A port as sv writes it: a number, or the reference as a string. */
export type PortValue = number | string;

const asPort = (text: string): PortValue | undefined => {
  if (!/^\d+$/.test(text)) return text;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
};

/** The port of a service from its env (`PORT=8000`) or its command's listen flag (`--port 8000`, `--bind 0.0.0.0:8000`, `-p 127.0.0.1:8000`). */
export function evidentPort(command: string | string[] | undefined, env: Record<string, unknown>): PortValue | undefined {
  const fromEnv = env.PORT;
  if (typeof fromEnv === "number" || (typeof fromEnv === "string" && new RegExp(`^${VALUE}$`).test(fromEnv))) return asPort(String(fromEnv));
  const line = command === undefined ? "" : typeof command === "string" ? command : command.join(" ");
  for (const flag of FLAGS) {
    const m = flag.exec(line);
    if (m) return asPort(m[1]!);
  }
  return undefined;
}
