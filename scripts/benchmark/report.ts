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
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmt = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2);

/** Does this row meet the phase's target? Only sv has targets. */
export function verdict(row: Row): "ok" | "MISS" | null {
  if (row.tool !== "sv" || row.phase.target === undefined || row.samples.length === 0) return null;
  return median(row.samples.map((s) => s.value)) <= row.phase.target ? "ok" : "MISS";
}

/** The results table: one line per phase and tool. */
export function renderTable(rows: Row[]): string {
  const header = ["PHASE", "N", "TOOL", "MEDIAN", "MIN", "MAX", "UNIT", "RUNS", "CMD EXIT", "TARGET", "ISSUE", "LOAD1", "CPU"];
  const body = rows.map((r) => {
    const xs = r.samples.map((s) => s.value);
    const exits = r.samples.map((s) => s.exitMs).filter((x): x is number => x !== undefined);
    const v = verdict(r);
    return [
      r.phase.id,
      String(r.services),
      r.tool,
      xs.length ? fmt(median(xs)) : "-",
      xs.length ? fmt(Math.min(...xs)) : "-",
      xs.length ? fmt(Math.max(...xs)) : "-",
      r.phase.unit ?? "ms",
      r.error ? `${xs.length} FAIL` : String(xs.length),
      exits.length ? fmt(median(exits)) : "",
      r.phase.target !== undefined && r.tool === "sv" ? `<=${r.phase.target}${v ? ` ${v}` : ""}` : "",
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
  const xs = (row?.samples ?? []).map(pick).filter((x): x is number => x !== undefined && !Number.isNaN(x));
  return xs.length ? median(xs) : undefined;
}

/**
 * The medians side by side as a Markdown table (one column per tool, then sv/runit), for pasting into a note.
 * `status ÷ hello world` is each tool's status median over the hello-world median measured in the same row.
 */
export function renderComparison(rows: Row[]): string {
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
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  const out = [row(header), rule, ...lines.map(row)];
  if (withRatio) out.push("", "sv/runit: sv's median over runit's (the sv-only rows: over runit's up, and runit's crash)");
  if (rows.some((r) => r.error)) out.push("", "FAIL: the phase failed before any run; *: it failed after some runs (median of those)");
  return out.join("\n");
}
