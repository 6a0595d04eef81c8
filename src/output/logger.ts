// Logs and errors go to stderr, as text or (--log-format json) one JSON object per line.
// consola is loaded only when something is logged: importing it costs ~15 ms of start-up.
import type { ConsolaInstance } from "consola";
import { output, paint, useColor } from "./style.ts";

let instance: ConsolaInstance | undefined;

function consola(): ConsolaInstance {
  if (instance) return instance;
  const { createConsola } = require("consola/core") as typeof import("consola/core");
  const color = useColor(process.stderr);
  const icons: Record<string, string> = { error: paint("✘", "red", color), warn: paint("⚠", "yellow", color), success: paint("✓", "green", color), info: paint("ℹ", "cyan", color) };
  instance = createConsola({
    level: output.quiet ? 1 : 3,
    reporters: [
      {
        log(obj) {
          const message = obj.args.map(String).join(" ");
          if (output.logFormat === "json") {
            writeRecord(obj.type === "success" ? "info" : obj.type, message, obj.tag ? { hint: obj.tag } : {}, obj.date);
          } else {
            const hint = obj.tag ? `\n  ${paint(`hint: ${obj.tag}`, "gray", color)}` : "";
            process.stderr.write(`${icons[obj.type] ?? icons.info} ${message}${hint}\n`);
          }
        },
      },
    ],
  });
  return instance;
}

/** The fields of a JSON log line beyond ts, level and msg (README: "JSON logs"). */
export interface LogFields {
  service?: string;
  unit?: string;
  /** What the line is: progress, result, transition, action, watch, or a plain log line (none). */
  event?: string;
  /** progress and result: waiting, starting, stopping, ok, failed, skipped. */
  phase?: string;
  from?: string;
  to?: string;
  reason?: string;
  hint?: string;
}

/** One JSON object on one line of stderr: {"ts","level","msg", …fields}. */
export function writeRecord(level: string, msg: string, fields: LogFields = {}, date = new Date()): void {
  process.stderr.write(`${JSON.stringify({ ts: date.toISOString(), level, msg, ...fields })}\n`);
}

export const logger = {
  info: (message: string) => consola().info(message),
  success: (message: string) => consola().success(message),
  warn: (message: string) => consola().warn(message),
  /** An error line, with an optional hint line under it. */
  error: (message: string, hint?: string) => consola().error({ tag: hint, args: [message] }),
};
