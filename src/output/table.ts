// Rows -> aligned text columns. Pure; colour is applied by the caller through `paint` functions.
import type { UnitStatus } from "../engine/report.ts";
import { type Color, paint } from "./style.ts";

export interface Column {
  header: string;
  align?: "left" | "right";
  /** Applied after padding, so escape codes do not break alignment. */
  paint?: (padded: string, raw: string) => string;
}

const width = (s: string) => [...s].length;

/** Render `rows` under `columns`, two spaces between columns, no trailing spaces. */
export function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[], header: boolean) =>
    cells
      .map((cell, i) => {
        const col = columns[i]!;
        const pad = " ".repeat(widths[i]! - width(cell));
        const padded = col.align === "right" ? pad + cell : cell + (i === cells.length - 1 ? "" : pad);
        return !header && col.paint ? col.paint(padded, cell) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header), true), ...rows.map((r) => line(r, false))].join("\n");
}

/** 12.5 -> "12s", 75 -> "1m15s", 5000 -> "1h23m". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return "-";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
}

const STATE_COLORS: Record<string, Color> = { running: "green", completed: "blue", starting: "yellow", stopping: "yellow", error: "red", stopped: "gray" };
const HEALTH_COLORS: Record<string, Color> = { healthy: "green", unhealthy: "red", unknown: "gray" };

/** The columns of a unit table (sv status, sv watch), state and health coloured; the last two headers vary. */
export function unitColumns(color: boolean, restarts: string, last: string): Column[] {
  return [
    { header: "NAME" },
    { header: "STATE", paint: (p, raw) => paint(p, STATE_COLORS[raw] ?? "gray", color) },
    { header: "HEALTH", paint: (p, raw) => paint(p, HEALTH_COLORS[raw] ?? "gray", color) },
    { header: "PID", align: "right" },
    { header: "UPTIME", align: "right" },
    { header: restarts, align: "right" },
    { header: last },
  ];
}

/** A unit's cells in unitColumns, with `last` in the last column. */
export function unitCells(r: UnitStatus, last: string): string[] {
  return [r.name, r.state, r.health, r.pid === null ? "-" : String(r.pid), formatDuration(r.uptime_s), String(r.restarts), last];
}
