// Output settings decided once from the flags and environment: colour, JSON, quiet.
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  logFormat: "text" | "json";
}

export const output: OutputOptions = { json: false, quiet: false, logFormat: "text" };

/** Colour on a terminal, never with NO_COLOR or TERM=dumb; FORCE_COLOR (not 0) forces it, as in Node. */
export function useColor(stream: { isTTY?: boolean } = process.stdout): boolean {
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== "0" && force !== "false") return true;
  return Boolean(stream.isTTY) && !("NO_COLOR" in process.env) && process.env.TERM !== "dumb";
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type Color = keyof typeof CODES;

export function paint(text: string, color: Color, enabled: boolean): string {
  return enabled ? `\x1b[${CODES[color]}m${text}\x1b[${color === "bold" ? 22 : 39}m` : text;
}
