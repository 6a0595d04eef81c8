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
