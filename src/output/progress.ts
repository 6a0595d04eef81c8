// Progress of up/down: a listr2 task list on a terminal; plain result lines otherwise (pipes, CI, --json).
// Every reporter prints the engine's warnings through the logger, on stderr.
import type { Phase, Reporter } from "../engine/context.ts";
import { logger, writeRecord } from "./logger.ts";
import { output, paint, useColor } from "./style.ts";

export interface ClosableReporter extends Reporter {
  /** Wait for the last frame to render. */
  close(): Promise<void>;
}

/** Each distinct warning once a minute: an engine that is down is said once, not once per unit (or per watch pass). */
const said = new Map<string, number>();
const warn = (message: string) => {
  const now = Date.now();
  if (now - (said.get(message) ?? -Infinity) < 60_000) return;
  said.set(message, now);
  logger.warn(message);
};

/** No progress to show, only the engine's warnings: for status, metrics, reconcile and watch. */
export const warningsReporter: Reporter = { plan() {}, update() {}, warn };

/** Plain lines, one per service as it settles: `✓ api running (pid 42) in 120 ms`. */
function plainReporter(stream: NodeJS.WriteStream): ClosableReporter {
  const color = useColor(stream);
  const marks: Partial<Record<Phase, string>> = { ok: paint("✓", "green", color), failed: paint("✘", "red", color), skipped: paint("-", "yellow", color) };
  return {
    plan() {},
    update(service, phase, message) {
      const mark = marks[phase];
      if (!mark) return;
      stream.write(`${mark} ${service}${phase === "ok" ? " " : ": "}${message}\n`);
    },
    warn,
    async close() {},
  };
}

const LEVELS: Partial<Record<Phase, string>> = { failed: "error", skipped: "warn" };
const RESULTS = new Set<Phase>(["ok", "failed", "skipped"]);

/** --log-format json: every phase of every service as a JSON record on stderr (a result: ok, failed, skipped). */
const jsonReporter: ClosableReporter = {
  plan() {},
  update(service, phase, message) {
    writeRecord(LEVELS[phase] ?? "info", `${service} ${message}`, { service, event: RESULTS.has(phase) ? "result" : "progress", phase });
  },
  warn,
  async close() {},
};

/** listr2's animated list: one task per service, titles updated as phases change. */
async function listrReporter(): Promise<ClosableReporter> {
  const { Listr } = await import("listr2");
  type Task = { title: string | undefined; skip(message?: string): void };
  const tasks = new Map<string, { task?: Task; settle?: (r: { phase: Phase; message: string }) => void; pending?: { phase: Phase; message: string } }>();
  let run: Promise<unknown> | undefined;
  return {
    plan(services) {
      for (const s of services) tasks.set(s, {});
      const list = new Listr(
        services.map((name) => ({
          title: `${name} waiting`,
          task: (_: unknown, task: Task) =>
            new Promise<void>((resolve, reject) => {
              const entry = tasks.get(name)!;
              entry.task = task;
              entry.settle = ({ phase, message }) => {
                if (phase === "ok") {
                  task.title = `${name} ${message}`;
                  resolve();
                } else if (phase === "skipped") {
                  task.skip(`${name} ${message}`);
                  resolve();
                } else reject(new Error(`${name}: ${message}`));
              };
              if (entry.pending) entry.settle(entry.pending);
            }),
        })),
        { concurrent: true, exitOnError: false, collectErrors: "minimal", rendererOptions: { collapseErrors: false, collapseSkips: false } },
      );
      const previous = run;
      run = Promise.all([previous, list.run()]);
    },
    update(service, phase, message) {
      const entry = tasks.get(service);
      if (!entry) return;
      if (phase === "ok" || phase === "failed" || phase === "skipped") {
        if (entry.settle) entry.settle({ phase, message });
        else entry.pending = { phase, message };
      } else if (entry.task) entry.task.title = `${service} ${message}`;
    },
    warn,
    async close() {
      await run?.catch(() => {});
    },
  };
}

/** The reporter for this invocation's output settings. */
export async function createReporter(stream: NodeJS.WriteStream = process.stdout): Promise<ClosableReporter> {
  if (output.quiet) return { plan() {}, update() {}, warn, async close() {} };
  if (output.logFormat === "json") return jsonReporter;
  if (output.json) return plainReporter(process.stderr);
  if (stream === process.stdout && stream.isTTY && !process.env.CI && process.env.TERM !== "dumb") return listrReporter();
  return plainReporter(stream);
}
