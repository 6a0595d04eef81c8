import { defineCommand } from "citty";
import { resolveStopNames } from "../engine/stop.ts";
import { logger } from "../output/logger.ts";
import { readState } from "../store/store.ts";
import { openContext } from "../engine/context.ts";
import { refresh } from "../engine/observe.ts";
import { type Overall, overallHealth } from "../engine/overall.ts";
import { unitStatuses, type UnitStatus } from "../engine/report.ts";
import { warningsReporter } from "../output/progress.ts";
import { output, useColor } from "../output/style.ts";
import { renderTable, unitCells, unitColumns } from "../output/table.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";

/** The status table: one row per unit. */
export function renderStatus(rows: UnitStatus[], color: boolean): string {
  return renderTable(unitColumns(color, "RESTARTS", "LAST ERROR"), rows.map((r) => unitCells(r, notes(r))));
}

/** The last column: orphan and changed marks, the next restart, then the last error. */
function notes(r: UnitStatus): string {
  const marks: string[] = [];
  if (r.host) marks.push(`on ${r.host}${r.version ? ` (release ${r.version})` : ""}`);
  if (r.orphan) marks.push("orphan: gone from the config (sv down stops it)");
  if (r.changed) marks.push("definition changed (sv up recreates it)");
  if (r.next_restart_at) {
    const inS = (Date.parse(r.next_restart_at) - Date.now()) / 1000;
    marks.push(inS > 0 ? `restart in ${inS.toFixed(1)} s` : `restart due ${(-inS).toFixed(0)} s ago (run sv watch or sv reconcile)`);
  }
  if (r.last_error) marks.push(r.last_error);
  return marks.join("; ");
}

/** The line under the table: the overall health, and how many of the units wanted up are ready. */
function summary(o: Overall): string {
  return `overall: ${o.line} (${o.wanted === 0 ? "nothing is wanted up" : `${o.ready} of ${o.wanted} wanted up ready`})`;
}

export default defineCommand({
  meta: { name: "status", description: "Observe reality (dead or reused pids, health checks), record it, and show each service" },
  args: { ...rootArgs, ...namesArg },
  async run({ args }) {
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], reporter: warningsReporter, fromStore: true });
    if (ctx.configError) logger.warn(`the configuration cannot be loaded (${ctx.configError}); showing what the store recorded`);
    const names = positionals(args);
    const services = names.length ? resolveStopNames(ctx, readState(ctx.paths), names) : undefined;
    const state = await refresh(ctx, services);
    const rows = unitStatuses(ctx, state, services);
    if (output.json) console.log(JSON.stringify({ services: rows }));
    else if (!output.quiet) console.log(`${renderStatus(rows, useColor())}\n${summary(overallHealth(rows))}`);
  },
});
