// A strict parser for Prometheus text exposition 0.0.4, for tests: throws on anything promtool would flag.
// Stricter than Prometheus itself: no blank lines, HELP and TYPE before the family's samples, samples contiguous.

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  help?: string;
  type?: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"];

/** Parse `text`; throws `line N: why` at the first violation. */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, ParsedFamily>();
  const series = new Set<string>();
  let current: ParsedFamily | undefined;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    const familyFor = (name: string, fromSample: boolean): ParsedFamily => {
      if (!METRIC_NAME.test(name)) fail(`bad metric name "${name}"`);
      if (current?.name === name) return current;
      if (families.has(name)) fail(`family ${name} is not contiguous`);
      if (fromSample) fail(`sample of ${name} before its HELP/TYPE`);
      current = { name, samples: [] };
      families.set(name, current);
      return current;
    };
    if (line === "") fail("blank line");
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return fail("a comment that is neither HELP nor TYPE");
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      const family = familyFor(name, false);
      if (family.samples.length) fail(`${kind} of ${name} after its samples`);
      if (kind === "HELP") {
        if (family.help !== undefined) fail(`second HELP for ${name}`);
        if (/\\[^\\n]|\\$/.test(rest.replace(/\\\\/g, ""))) fail("bad escape in HELP");
        family.help = rest;
      } else {
        if (family.type !== undefined) fail(`second TYPE for ${name}`);
        if (!TYPES.includes(rest)) fail(`unknown type "${rest}"`);
        if (rest === "counter" && !name.endsWith("_total")) fail(`counter ${name} should end in _total`);
        family.type = rest;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) return fail("not a sample line");
    const [, name, , labelText, valueText] = m as unknown as [string, string, string | undefined, string | undefined, string];
    const family = familyFor(name, true);
    if (family.type === undefined || family.help === undefined) fail(`sample of ${name} without HELP and TYPE`);
    const labels = parseLabels(labelText ?? "", fail);
    const value = parseValue(valueText, fail);
    const key = `${name}{${Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
    if (series.has(key)) fail(`duplicate series ${key}`);
    series.add(key);
    if (family.type === "counter" && value < 0) fail("negative counter");
    family.samples.push({ name, labels, value });
  });
  return families;
}

function parseLabels(text: string, fail: (why: string) => never): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (!m) fail(`bad label at "${text.slice(i)}"`);
    const name = m![1]!;
    if (!LABEL_NAME.test(name) || name.startsWith("__")) fail(`bad label name "${name}"`);
    if (name in labels) fail(`label ${name} twice`);
    i += m![0].length;
    let value = "";
    for (;;) {
      if (i >= text.length) fail("unterminated label value");
      const c = text[i]!;
      if (c === '"') break;
      if (c === "\n") fail("raw line feed in label value");
      if (c === "\\") {
        const next = text[i + 1];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else fail(`bad escape \\${next ?? ""} in label value`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++;
    if (i < text.length) {
      if (text[i] !== ",") fail("labels must be separated by commas");
      i++;
    }
  }
  return labels;
}

function parseValue(text: string, fail: (why: string) => never): number {
  if (text === "NaN") return Number.NaN;
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(`bad value "${text}"`);
  return Number(text);
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string>): number | undefined {
  const family = [...families.values()].find((f) => f.samples.some((s) => s.name === name));
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
