// The live table of `sv watch`: redrawn in place on a terminal, sized to fit (80x24 tmux panes).
import type { UnitStatus } from "../engine/report.ts";
import { renderTable, unitCells, unitColumns } from "./table.ts";

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`);

/** One frame: a title line, the table, and the latest events, within `width` x `height`. */
export function renderFrame(opts: {
  title: string;
  rows: UnitStatus[];
  lastEvent: Map<string, string>;
  recent: string[];
  width: number;
  height: number;
  color: boolean;
}): string {
  const { rows, width, height, color } = opts;
  const maxRows = Math.max(1, height - 4);
  const shown = rows.slice(0, rows.length > maxRows ? maxRows - 1 : maxRows);
  const cells = shown.map((r) => {
    const c = unitCells(r, opts.lastEvent.get(r.name) ?? r.last_error ?? "");
    c[0] = clip(c[0]!, 16);
    return c;
  });
  // Give the last column whatever width is left.
  const fixed = ["NAME", "STATE", "HEALTH", "PID", "UPTIME", "RST"].map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const room = Math.max(10, width - fixed.reduce((a, b) => a + b + 2, 0));
  for (const c of cells) c[6] = clip(c[6]!, room);
  const table = renderTable(unitColumns(color, "RST", "LAST EVENT"), cells);
  const lines = [clip(opts.title, width), ...table.split("\n")];
  if (rows.length > shown.length) lines.push(`… ${rows.length - shown.length} more`);
  const spare = height - lines.length - 1;
  if (spare > 1 && opts.recent.length > 0) {
    lines.push("");
    for (const e of opts.recent.slice(-(spare - 1))) lines.push(clip(e, width));
  }
  return lines.join("\n");
}
