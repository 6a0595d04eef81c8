import { defineCommand } from "citty";
import { resolveNames } from "../config/project.ts";
import { openContext } from "../engine/context.ts";
import { refresh } from "../engine/observe.ts";
import { unitStatuses, type UnitStatus } from "../engine/report.ts";
import { warningsReporter } from "../output/progress.ts";
import { output, useColor } from "../output/style.ts";
import { renderTable, unitCells, unitColumns } from "../output/table.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";

/** The status table: one row per unit. */
export function renderStatus(rows: UnitStatus[], color: boolean): string {
  return renderTable(unitColumns(color, "RESTARTS", "LAST ERROR"), rows.map((r) => unitCells(r, r.last_error ?? "")));
}

export default defineCommand({
  meta: { name: "status", description: "Observe reality (dead or reused pids, health checks), record it, and show each service" },
  args: { ...rootArgs, ...namesArg },
  async run({ args }) {
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], reporter: warningsReporter });
    const names = positionals(args);
    const services = names.length ? resolveNames(ctx.project, names) : undefined;
    const state = await refresh(ctx, services);
    const rows = unitStatuses(ctx, state, services);
    if (output.json) console.log(JSON.stringify({ services: rows }));
    else if (!output.quiet) console.log(renderStatus(rows, useColor()));
  },
});
