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

const fmt = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? "-" : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

/** Does this row meet the phase's target? Only sv has targets. */
export function verdict(row: Row): "ok" | "MISS" | null {
  if (row.tool !== "sv" || row.phase.targetMs === undefined || row.samples.length === 0) return null;
  return median(row.samples.map((s) => s.ms)) <= row.phase.targetMs ? "ok" : "MISS";
}

/** The results table: one line per phase and tool, times in ms. */
export function renderTable(rows: Row[]): string {
  const header = ["PHASE", "N", "TOOL", "MEDIAN", "MIN", "MAX", "RUNS", "CMD EXIT", "TARGET", "ISSUE", "LOAD1", "CPU"];
  const body = rows.map((r) => {
    const ms = r.samples.map((s) => s.ms);
    const exits = r.samples.map((s) => s.exitMs).filter((x): x is number => x !== undefined);
    const v = verdict(r);
    return [
      r.phase.id,
      String(r.services),
      r.tool,
      ms.length ? fmt(median(ms)) : "-",
      ms.length ? fmt(Math.min(...ms)) : "-",
      ms.length ? fmt(Math.max(...ms)) : "-",
      r.error ? `${ms.length} FAIL` : String(ms.length),
      exits.length ? fmt(median(exits)) : "-",
      r.phase.targetMs !== undefined && r.tool === "sv" ? `<=${r.phase.targetMs}${v ? ` ${v}` : ""}` : "",
      r.phase.reference?.[r.tool] !== undefined ? String(r.phase.reference[r.tool]) : "",
      r.load,
      `${r.busyPct.toFixed(0)}%`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([1, 3, 4, 5, 7, 9]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n");
}
