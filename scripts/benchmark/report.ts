// Summaries and the results table.
import type { Phase, Sample } from "./phases.ts";

export interface Row {
  phase: Phase;
  tool: string;
  services: number;
  samples: Sample[];
  /** Why the phase failed for this tool (samples so far are still shown). */
  error?: string;
  /** 1-minute load average when this row started. */
  load: string;
  /** Whole-machine CPU busy % while this row ran (this benchmark included). */
  busyPct: number;
  /** What the phase's profile runs found, printed under the table. */
  notes?: string[];
  /** Figures from the profile runs for the side-by-side table (e.g. engine requests per command). */
  stats?: Record<string, number | string>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median of the finite `f(item)`s, NaN when there is none (a profile timeline's figures, over its runs). */
export function medianOver<T>(items: T[], f: (item: T) => number | undefined): number {
  const xs = items.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length ? median(xs) : NaN;
}

/** Total time covered by at least one of `spans` ([from, to] pairs, which may overlap): a profile's "busy" time. */
export function coveredMs(spans: (readonly [number, number])[]): number {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [from, to] = [-Infinity, -Infinity];
  for (const [a, b] of sorted) {
    if (a > to) {
      if (to > from) total += to - from;
      [from, to] = [a, b];
    } else to = Math.max(to, b);
  }
  if (to > from) total += to - from;
  return total;
}

/** A time in a profile line, in ms: one decimal below 100, "-" when it is unknown (NaN). */
export const fmtMs = (x: number) => (Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** A figure for a table cell: "-" when there is none, fewer decimals the larger it is. */
export const fmt = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2);

/** The note under a comparison table that has a failed row. */
const FAIL_NOTE = "FAIL: the phase failed before any run; *: it failed after some runs (median of those)";

/**
 * A Markdown table, the first column left-aligned and the others right-aligned, each as wide as its widest cell;
 * then `notes` (each after an empty line), and FAIL_NOTE when one of `rows` failed.
 */
export function markdownTable(header: string[], lines: string[][], rows: Row[], notes: string[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  const out = [row(header), rule, ...lines.map(row)];
  for (const note of notes) out.push("", note);
  if (rows.some((r) => r.error)) out.push("", FAIL_NOTE);
  return out.join("\n");
}

/** median(value) / median(baseline) of a row whose phase has a ratio target, or undefined. */
export function ratioOf(row: Row | undefined): number | undefined {
  const rt = row?.phase.ratioTarget;
  if (!row || !rt) return undefined;
  const v = medianOf(row);
  const b = medianOf(row, rt.baseline);
  return v !== undefined && b ? v / b : undefined;
}

/** Does this row meet the phase's targets (absolute, and relative to its baseline)? Only sv has targets. */
export function verdict(row: Row): "ok" | "MISS" | null {
  if (row.tool !== "sv" || row.samples.length === 0) return null;
  const checks: boolean[] = [];
  if (row.phase.target !== undefined) checks.push(median(row.samples.map((s) => s.value)) <= row.phase.target);
  const ratio = ratioOf(row);
  if (row.phase.ratioTarget && ratio !== undefined) checks.push(ratio <= row.phase.ratioTarget.max);
  if (checks.length === 0) return null;
  return checks.every(Boolean) ? "ok" : "MISS";
}

/** The TARGET cell: `<=25 ok`, `<=1.2x raw (1.07) ok`. */
function targetCell(r: Row): string {
  if (r.tool !== "sv") return "";
  const parts: string[] = [];
  if (r.phase.target !== undefined) parts.push(`<=${r.phase.target}`);
  const rt = r.phase.ratioTarget;
  if (rt) {
    const ratio = ratioOf(r);
    parts.push(`<=${rt.max}x ${rt.of}${ratio !== undefined ? ` (${ratio.toFixed(2)})` : ""}`);
  }
  const v = verdict(r);
  return parts.length ? `${parts.join(", ")}${v ? ` ${v}` : ""}` : "";
}

/** The results table: one line per phase and tool. */
export function renderTable(rows: Row[]): string {
  const header = ["PHASE", "N", "TOOL", "MEDIAN", "MIN", "MAX", "UNIT", "RUNS", "CMD EXIT", "TARGET", "ISSUE", "LOAD1", "CPU"];
  const body = rows.map((r) => {
    const xs = r.samples.map((s) => s.value);
    const exits = r.samples.map((s) => s.exitMs).filter((x): x is number => x !== undefined);
    return [
      r.phase.label ?? r.phase.id,
      String(r.services),
      r.tool,
      xs.length ? fmt(median(xs)) : "-",
      xs.length ? fmt(Math.min(...xs)) : "-",
      xs.length ? fmt(Math.max(...xs)) : "-",
      r.phase.unit ?? "ms",
      r.error ? `${xs.length} FAIL` : String(xs.length),
      exits.length ? fmt(median(exits)) : "",
      targetCell(r),
      r.phase.reference?.[r.tool] !== undefined ? String(r.phase.reference[r.tool]) : "",
      r.load,
      `${r.busyPct.toFixed(0)}%`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([1, 3, 4, 5, 8, 10]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n");
}

/** One line of the side-by-side table: a phase's samples (or one field of them) per tool. */
interface Measurement {
  label: (n: number) => string;
  phase: string;
  unit: string;
  pick?: (s: Sample) => number | undefined;
  /** sv-only phases: the ratio is taken against runit's median of this phase. */
  runitPhase?: string;
  /** No sv/runit ratio (the hello world is the same program for every tool). */
  noRatio?: boolean;
}

const MEASUREMENTS: Measurement[] = [
  { label: (n) => `up ${n}: command → every port accepts (sv with \`port:\`)`, phase: "up", unit: "ms" },
  { label: (n) => `up ${n}: sv without \`port:\` (no health check)`, phase: "up-noport", unit: "ms", runitPhase: "up" },
  { label: (n) => `down ${n}: command → every port refuses`, phase: "down", unit: "ms" },
  { label: (n) => `down ${n}: command → every service process gone`, phase: "down", unit: "ms", pick: (s) => s.goneMs },
  { label: (n) => `status with ${n} running`, phase: "status", unit: "ms" },
  { label: () => "compiled Bun hello world (run before each status)", phase: "status", unit: "ms", pick: (s) => s.helloMs, noRatio: true },
  { label: (n) => `crash → serving again, ${n} supervised (SIGKILL → port accepts)`, phase: "crash", unit: "ms" },
  { label: () => "crash → serving again, sv with restart_delay: 0s", phase: "crash0", unit: "ms", runitPhase: "crash" },
  { label: (n) => `supervisor idle CPU, ${n} services (% of a core)`, phase: "idle", unit: "%" },
  { label: (n) => `supervisor private memory (USS), ${n} services`, phase: "rss", unit: "MiB", pick: (s) => s.ussMiB },
  { label: (n) => `supervisor RSS, ${n} services`, phase: "rss", unit: "MiB" },
];

/** Median of `pick` over a row's samples, or undefined when it has none. */
function medianOf(row: Row | undefined, pick: (s: Sample) => number | undefined = (s) => s.value): number | undefined {
  const xs = valuesOf(row, pick);
  return xs.length ? median(xs) : undefined;
}

/** `pick` of each of a row's samples that has a finite one (by default, their values). */
export function valuesOf(row: Row | undefined, pick: (s: Sample) => number | undefined = (s) => s.value): number[] {
  return (row?.samples ?? []).map(pick).filter((x): x is number => x !== undefined && Number.isFinite(x));
}

/**
 * The medians side by side as a Markdown table (one column per tool, then sv/runit), for pasting into a note.
 * `status ÷ hello world` is each tool's status median over the hello-world median measured in the same row.
 */
export function renderComparison(rows: Row[]): string {
  rows = rows.filter((r) => r.phase.engine === undefined);
  if (rows.length === 0) return "";
  const tools = [...new Set(rows.map((r) => r.tool))];
  const withRatio = tools.includes("sv") && tools.includes("runit");
  const find = (phase: string, tool: string) => rows.find((r) => r.phase.id === phase && r.tool === tool);
  const cell = (row: Row | undefined, m: Measurement) => {
    if (!row) return "";
    const x = medianOf(row, m.pick);
    if (x === undefined) return row.error ? "FAIL" : "-";
    return `${fmt(x)} ${m.unit}${row.error ? "*" : ""}`;
  };
  const lines: string[][] = [];
  for (const m of MEASUREMENTS) {
    const present = rows.filter((r) => r.phase.id === m.phase);
    if (present.length === 0 || (m.pick && present.every((r) => medianOf(r, m.pick) === undefined))) continue;
    const line = [m.label(present[0]!.services), ...tools.map((t) => cell(find(m.phase, t), m))];
    if (withRatio) {
      const sv = medianOf(find(m.phase, "sv"), m.pick);
      const runit = medianOf(find(m.runitPhase ?? m.phase, "runit"), m.pick);
      line.push(!m.noRatio && sv !== undefined && runit !== undefined && runit > 0 ? `${(sv / runit).toFixed(2)}` : "");
    }
    lines.push(line);
    if (m.phase === "status" && m.pick) {
      const ratios = tools.map((t) => {
        const status = medianOf(find("status", t));
        const hello = medianOf(find("status", t), m.pick);
        return status !== undefined && hello ? `${(status / hello).toFixed(1)}×` : "";
      });
      lines.push(["status ÷ hello world", ...ratios, ...(withRatio ? [""] : [])]);
    }
  }
  const header = ["measurement (median)", ...tools, ...(withRatio ? ["sv/runit"] : [])];
  return markdownTable(header, lines, rows, withRatio ? ["sv/runit: sv's median over runit's (the sv-only rows: over runit's up, and runit's crash)"] : []);
}

/** One line of the container table: a median (of a row's samples, or one field of them), a ratio, or a profile figure. */
interface ContainerMeasurement {
  label: (n: number) => string;
  phase: string;
  tool?: string;
  pick?: (s: Sample) => number | undefined;
  unit?: string;
  /** The row's ratio target: median / median(baseline), with its verdict. */
  ratio?: boolean;
  /** median of this phase's sv row over the median of `over`'s sv row (same engine). */
  over?: string;
  /** A figure of the row's profile runs (Row.stats). */
  stat?: string;
  /** median(pick) / median(per) of the same row's samples. */
  per?: (s: Sample) => number | undefined;
  /** With `stat`: the figure over median(statPer) of the row's samples. */
  statPer?: (s: Sample) => number | undefined;
}

const CONTAINER_MEASUREMENTS: ContainerMeasurement[] = [
  { label: () => "start: `sv up web` -> host port accepts", phase: "container-start", unit: "ms" },
  { label: () => "start: raw create+start -> host port accepts", phase: "container-start", pick: (s) => s.rawMs, unit: "ms" },
  { label: () => "start: sv / raw (target <= 1.2)", phase: "container-start", ratio: true },
  { label: () => "start: `sv up web` -> HTTP answered", phase: "container-start", pick: (s) => s.servingMs, unit: "ms" },
  { label: () => "start: raw -> HTTP answered", phase: "container-start", pick: (s) => s.parts?.rawServing, unit: "ms" },
  { label: () => "start: sv / raw, until HTTP answered", phase: "container-start", pick: (s) => s.servingMs, per: (s) => s.parts?.rawServing },
  { label: () => "start: `sv up web` exits", phase: "container-start", pick: (s) => s.exitMs, unit: "ms" },
  { label: () => "start: engine requests per `sv up web`", phase: "container-start", stat: "requests" },
  { label: () => "start: sv spawn -> first engine request", phase: "container-start", stat: "firstRequestMs" },
  { label: (n) => `status: \`sv status --json\`, ${n} running (target <= 30 ms)`, phase: "container-status", unit: "ms" },
  { label: () => "status: compiled Bun hello world (its floor)", phase: "container-status", pick: (s) => s.helloMs, unit: "ms" },
  { label: () => "status: raw list call (label filter) in a minimal script", phase: "container-status", pick: (s) => s.rawMs, unit: "ms" },
  { label: () => "status: `sv --version` (sv's process start)", phase: "container-status", stat: "versionMs" },
  { label: () => "status: sv spawn -> its first engine request", phase: "container-status", stat: "firstRequestMs" },
  { label: () => "status: engine requests per `sv status`", phase: "container-status", stat: "requests" },
  { label: () => "status: time in engine requests", phase: "container-status", stat: "engineMs" },
  { label: (n) => `heal: KILL -> host port accepts again (sv watch, ${n} containers)`, phase: "container-heal", unit: "ms" },
  { label: () => "heal: raw create+start in the same runs", phase: "container-heal", pick: (s) => s.rawMs, unit: "ms" },
  { label: () => "heal / raw create+start (target <= 1.5)", phase: "container-heal", ratio: true },
  { label: () => "heal: KILL -> HTTP answered again", phase: "container-heal", pick: (s) => s.servingMs, unit: "ms" },
  { label: () => "heal: raw create+start -> HTTP answered", phase: "container-heal", pick: (s) => s.parts?.rawServing, unit: "ms" },
  { label: () => "heal / raw, until HTTP answered", phase: "container-heal", pick: (s) => s.servingMs, per: (s) => s.parts?.rawServing },
  { label: () => "heal / sv's own start (container-start)", phase: "container-heal", over: "container-start" },
  { label: () => "heal: KILL -> the engine's end event reaches sv (profile)", phase: "container-heal", stat: "dieEventMs" },
  { label: () => "heal: KILL -> sv notices (its transition logged)", phase: "container-heal", pick: (s) => s.parts?.noticed, unit: "ms" },
  { label: () => "heal: end event -> host port accepts (profile)", phase: "container-heal", stat: "afterDieMs" },
  { label: () => "heal from the end event / raw create+start", phase: "container-heal", stat: "afterDieMs", statPer: (s) => s.rawMs },
  { label: () => "heal: engine requests per heal (profile)", phase: "container-heal", stat: "requests" },
  { label: () => "heal, restart_delay: 0s: KILL -> port accepts", phase: "container-heal0", unit: "ms" },
  { label: () => "heal0 / raw create+start (target <= 1.5)", phase: "container-heal0", ratio: true },
  { label: () => "heal0: KILL -> HTTP answered again", phase: "container-heal0", pick: (s) => s.servingMs, unit: "ms" },
  { label: () => "heal0 / raw, until HTTP answered", phase: "container-heal0", pick: (s) => s.servingMs, per: (s) => s.parts?.rawServing },
  { label: () => "heal0: end event -> host port accepts (profile)", phase: "container-heal0", stat: "afterDieMs" },
  { label: () => "heal0 from the end event / raw create+start", phase: "container-heal0", stat: "afterDieMs", statPer: (s) => s.rawMs },
  { label: () => "start: runs retried (the engine failed to set up the port)", phase: "container-start", stat: "retries" },
  { label: () => "heal: runs retried (the engine failed to set up the port)", phase: "container-heal", stat: "retries" },
  { label: () => "heal: kills that first waited for the container to serve", phase: "container-heal", stat: "waitedBeforeKill" },
  { label: () => "heal0: runs retried (the engine failed to set up the port)", phase: "container-heal0", stat: "retries" },
  { label: () => "heal0: kills that first waited for the container to serve", phase: "container-heal0", stat: "waitedBeforeKill" },
];

/** The container phases' medians side by side, one column per engine, with the ratios the targets are about. */
export function renderContainerComparison(rows: Row[]): string {
  rows = rows.filter((r) => r.phase.engine !== undefined);
  if (rows.length === 0) return "";
  const engines = [...new Set(rows.map((r) => r.phase.engine!))];
  const find = (phase: string, engine: string, tool = "sv") => rows.find((r) => r.phase.id === phase && r.phase.engine === engine && r.tool === tool);
  const lines: string[][] = [];
  for (const m of CONTAINER_MEASUREMENTS) {
    const present = engines.map((e) => find(m.phase, e, m.tool));
    if (present.every((r) => !r)) continue;
    const cells = present.map((row) => {
      if (!row) return "";
      if (m.stat !== undefined && m.statPer) {
        const x = row.stats?.[m.stat];
        const b = medianOf(row, m.statPer);
        return typeof x === "number" && b ? (x / b).toFixed(2) : "-";
      }
      if (m.stat !== undefined) {
        const x = row.stats?.[m.stat];
        if (x === undefined) return "-";
        if (typeof x !== "number") return x;
        return m.stat.endsWith("Ms") ? `${fmt(x)} ms` : Number.isInteger(x) ? String(x) : fmt(x);
      }
      if (m.ratio) {
        const ratio = ratioOf(row);
        const v = verdict(row);
        return ratio === undefined ? "-" : `${ratio.toFixed(2)}${v ? ` ${v}` : ""}`;
      }
      if (m.per) {
        const a = medianOf(row, m.pick);
        const b = medianOf(row, m.per);
        return a !== undefined && b ? (a / b).toFixed(2) : "-";
      }
      if (m.over) {
        const a = medianOf(row);
        const b = medianOf(find(m.over, row.phase.engine!));
        return a !== undefined && b ? (a / b).toFixed(2) : "-";
      }
      const x = medianOf(row, m.pick);
      if (x === undefined) return row.error ? "FAIL" : "-";
      return `${fmt(x)} ${m.unit ?? ""}${row.error ? "*" : ""}`.trim();
    });
    if (cells.every((c) => c === "-" || c === "")) continue;
    const n = present.find((r) => r)!.services;
    lines.push([m.label(n), ...cells]);
  }
  return markdownTable(["container measurement (median)", ...engines], lines, rows);
}
