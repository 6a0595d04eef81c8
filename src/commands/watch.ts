import { defineCommand } from "citty";
import { openContext } from "../engine/context.ts";
import { type Said, saidLine } from "../engine/reconcile.ts";
import { unitStatuses } from "../engine/report.ts";
import { watchLoop } from "../engine/watch.ts";
import { renderFrame } from "../output/live.ts";
import { logger, writeRecord } from "../output/logger.ts";
import { writeSaid } from "../output/said.ts";
import { warningsReporter } from "../output/progress.ts";
import { output, useColor } from "../output/style.ts";
import type { StoreState } from "../store/store.ts";
import { onStopSignals } from "./_signals.ts";
import { intervalArg, rootArgs } from "./_args.ts";

const RECENT_LINES = 50;

export default defineCommand({
  meta: {
    name: "watch",
    description: "Reconcile continuously (restart crashed and unhealthy services) with a live table; Ctrl-C leaves services running",
  },
  args: {
    ...rootArgs,
    interval: { type: "string", description: "Full pass (probes, redraw) every", default: "2s", valueHint: "duration" },
    listen: { type: "string", description: "Also serve the HTTP API and /metrics on ADDR (host:port)", valueHint: "addr" },
  },
  async run({ args }) {
    const intervalMs = intervalArg(args.interval);
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"], reporter: warningsReporter });
    const tty = Boolean(process.stdout.isTTY) && !output.json;
    const color = useColor();
    const abort = new AbortController();
    const signals = onStopSignals(() => abort.abort());

    let api: { url: string; stop(): void | Promise<void> } | undefined;
    if (args.listen) {
      const { startApi } = await import("../observe/api/server.ts");
      api = await startApi({ ctx, listen: args.listen, onWarning: (m) => logger.warn(m) });
    }

    const lastEvent = new Map<string, string>();
    const recent: string[] = [];
    let state: StoreState | undefined;
    const time = () => new Date().toISOString().slice(11, 19);
    const report = (said: Said) => {
      const line = saidLine(said);
      if (said.unit !== undefined) lastEvent.set(said.unit, said.text);
      recent.push(`${time()} ${line}`);
      if (recent.length > RECENT_LINES) recent.shift();
      if (output.logFormat === "json") writeSaid(said, line, "action");
      else if (!tty && !output.quiet) console.log(output.json ? JSON.stringify({ ts: new Date().toISOString(), line }) : `${time()} ${line}`);
    };
    const draw = () => {
      if (!tty || !state) return;
      const frame = renderFrame({
        title: `sv watch  ${ctx.project.root}  ${time()}  every ${args.interval}${api ? `  api ${api.url}` : ""}`,
        rows: unitStatuses(ctx, state),
        lastEvent,
        recent,
        width: process.stdout.columns || 80,
        height: process.stdout.rows || 24,
        color,
      });
      process.stdout.write(`\x1b[H${frame.split("\n").join("\x1b[K\n")}\x1b[K\x1b[J`);
    };
    if (tty) process.stdout.write("\x1b[?1049h\x1b[?25l");
    const banner = `watching ${ctx.project.services.size} service${ctx.project.services.size === 1 ? "" : "s"} in ${ctx.project.root}${api ? `, API on ${api.url}` : ""} (Ctrl-C to stop; services keep running)`;
    if (output.logFormat === "json") writeRecord("info", banner, { event: "watch" });
    else if (!tty && !output.quiet && !output.json) console.log(`${time()} ${banner}`);
    // The clock and uptimes move on a terminal; piped, nothing is drawn, so nothing needs to wake.
    const redraw = tty ? setInterval(draw, 1000) : undefined;
    try {
      await watchLoop(ctx, {
        intervalMs,
        report,
        onState: (s) => {
          state = s;
          draw();
        },
        signal: abort.signal,
      });
    } finally {
      clearInterval(redraw);
      await api?.stop();
      if (tty) process.stdout.write("\x1b[?25h\x1b[?1049l");
    }
    signals.finish();
  },
});
