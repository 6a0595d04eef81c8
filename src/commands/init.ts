// `sv init [NAME…]`: a container's entrypoint. PID 1 (or a child subreaper), reaping every orphan; up, then
// supervise in the foreground with each service's output on stdout behind its name; SIGTERM, SIGINT and
// SIGQUIT stop everything in order within --stop-timeout; SIGHUP applies definition changes; TTY job-control
// signals are ignored. Exits with an essential service's code, else 0 after a clean stop.
import { defineCommand } from "citty";
import { type Ctx, openContext } from "../engine/context.ts";
import { InitControl, runInit } from "../engine/init.ts";
import { type Said, saidLine } from "../engine/reconcile.ts";
import { logger } from "../output/logger.ts";
import { createReporter } from "../output/progress.ts";
import { writeSaid } from "../output/said.ts";
import { output, useColor } from "../output/style.ts";
import { becomeSubreaper, startReaper } from "../runtime/reaper.ts";
import { readState } from "../store/store.ts";
import { ServiceOutput } from "./_service-output.ts";
import { durationArg, intervalArg, namesArg, positionals, rootArgs } from "./_args.ts";

/** Fits docker's (and podman's) default 10 s between SIGTERM and SIGKILL, with a second to spare. */
const DEFAULT_STOP_BUDGET = "9s";
const STOPS = ["SIGTERM", "SIGINT", "SIGQUIT"] as const;
/** Job control from a terminal: a container's init is never suspended by them. */
const IGNORED = ["SIGTSTP", "SIGTTIN", "SIGTTOU"] as const;

function say(s: Said): void {
  const line = saidLine(s);
  if (output.logFormat === "json") return writeSaid(s, line, "init");
  if (output.quiet && s.level !== "error") return;
  if (s.level === "error") logger.error(line);
  else if (s.level === "warn") logger.warn(line);
  else logger.info(line);
}

export default defineCommand({
  meta: { name: "init", description: "A container's entrypoint: PID 1 or a subreaper; up, supervise in the foreground, stop everything in order on SIGTERM" },
  args: {
    ...rootArgs,
    ...namesArg,
    "stop-timeout": { type: "string", description: `From SIGTERM to the SIGKILL of what is left (default ${DEFAULT_STOP_BUDGET}; env SV_INIT_STOP_TIMEOUT)`, valueHint: "duration" },
    interval: { type: "string", description: "Full supervision pass (probes, state re-read) every", default: "2s", valueHint: "duration" },
  },
  async run({ args }) {
    const fromEnv = process.env.SV_INIT_STOP_TIMEOUT;
    const stopBudgetMs = durationArg(args["stop-timeout"] ? "--stop-timeout" : fromEnv ? "SV_INIT_STOP_TIMEOUT" : "--stop-timeout", args["stop-timeout"] || fromEnv || DEFAULT_STOP_BUDGET, "9s");
    const intervalMs = intervalArg(args.interval, "9s");

    // Signals first: as a subreaper, a SIGTERM before its handler would end sv with its services left running.
    const control = new InitControl();
    let stopping = false;
    const onStop = (sig: NodeJS.Signals) => {
      control.push(stopping ? { kind: "force" } : { kind: "stop", signal: sig });
      stopping = true;
    };
    const onHup = () => control.push({ kind: "reload" });
    const ignore = () => {};
    for (const sig of STOPS) process.on(sig, onStop);
    process.on("SIGHUP", onHup);
    for (const sig of IGNORED) process.on(sig, ignore);

    // Before anything is spawned: the reaper must know every child Bun waits for.
    const reaper = startReaper();
    const pid1 = process.pid === 1;
    if (!pid1 && !becomeSubreaper()) logger.warn("sv init: not PID 1 and cannot become a child subreaper: orphans of the services go to the real init");

    const reporter = await createReporter(process.stderr);
    const open = () => openContext({ root: args.root, waitLock: args["wait-lock"], reporter });
    let ctx: Ctx;
    try {
      ctx = await open();
    } catch (e) {
      reaper.stop();
      throw e;
    }
    const services = new ServiceOutput(useColor(process.stdout));
    services.sync(ctx, readState(ctx.paths));
    services.start();
    say({ text: `sv init: ${pid1 ? "PID 1" : `pid ${process.pid}, child subreaper`}; ${ctx.project.services.size} service${ctx.project.services.size === 1 ? "" : "s"} in ${ctx.project.root}; stop budget ${stopBudgetMs} ms` });

    let result;
    try {
      result = await runInit(ctx, {
        names: positionals(args),
        stopBudgetMs,
        intervalMs,
        control,
        report: say,
        onState: (c, state) => services.sync(c, state),
        reload: async () => {
          const next = await open();
          services.sync(next, readState(next.paths));
          return next;
        },
        killStrays: (timeoutMs) => reaper.killStrays(timeoutMs),
      });
    } finally {
      await services.stop();
      await reporter.close();
    }
    reaper.scan();
    say({ text: `sv init: exit ${result.exitCode}: ${result.reason} (${reaper.count} orphan${reaper.count === 1 ? "" : "s"} reaped)` });
    if (result.exitCode !== 0) process.exitCode = result.exitCode;
  },
});
