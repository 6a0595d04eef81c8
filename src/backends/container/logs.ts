// A container's log is the engine's (stdout and stderr of its main process), read through the API;
// what sv runs in it (hooks) is written beside it, in .sv/log/UNIT.log with a timestamp per line,
// and merged in by time.
import { closeSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Project } from "../../config/schema.ts";
import { logFile, type Paths } from "../../paths.ts";
import { hasLog } from "../../runtime/logs/files.ts";
import { tailLog } from "../../runtime/logs/tail.ts";
import { ensurePrivateDir, openPrivate } from "../../runtime/private-files.ts";
import type { LogAccess } from "../backend.ts";
import { lineSplitter } from "../../runtime/lines.ts";
import { EngineError, type EngineClient, readFrames } from "./client.ts";
import { containerName } from "./names.ts";

/** `TIMESTAMP text` -> [ms, text]; lines without one sort first. */
function stamped(line: string): [number, string] {
  const sp = line.indexOf(" ");
  const ms = sp > 0 ? Date.parse(line.slice(0, sp)) : Number.NaN;
  return Number.isNaN(ms) ? [0, line] : [ms, line.slice(sp + 1)];
}

export function containerLogs(paths: Paths, project: Project, engine: () => EngineClient): LogAccess & { hookLog(unit: string, text: string): void } {
  const side = (unit: string) => logFile(paths, unit);

  async function engineLines(unit: string, lines: number): Promise<string[]> {
    const out: string[] = [];
    try {
      const res = await engine().request("GET", `/containers/${containerName(project, unit)}/logs`, { query: { stdout: 1, stderr: 1, timestamps: 1, tail: lines } });
      const split = lineSplitter((l) => out.push(l));
      await readFrames(res.body, (f) => split(f.text));
      split("\n");
      if (out.at(-1) === "") out.pop();
    } catch (e) {
      if (!(e instanceof EngineError && e.status === 404)) throw e;
    }
    return out;
  }

  return {
    async tail(unit, lines) {
      if (lines <= 0) return [];
      const merged = [...(await engineLines(unit, lines)), ...tailLog(side(unit), lines)].map(stamped);
      // A stable sort by time: the engine's lines keep their order among themselves, and so do sv's.
      merged.sort((a, b) => a[0] - b[0]);
      return merged.slice(-lines).map(([, text]) => text);
    },

    async exists(unit) {
      if (hasLog(side(unit))) return true;
      return engine()
        .request("GET", `/containers/${containerName(project, unit)}/json`)
        .then(
          () => true,
          (e) => (e instanceof EngineError && e.status === 404 ? false : Promise.reject(e)),
        );
    },

    file: () => null,

    follow(unit, lines, onLine) {
      let closed = false;
      let abort: AbortController | null = null;
      (async () => {
        let tail: number | "all" = lines;
        let since = 0;
        while (!closed) {
          abort = new AbortController();
          try {
            const query = { stdout: 1, stderr: 1, follow: 1, timestamps: 1, ...(since ? { since } : { tail }) };
            const res = await engine().request("GET", `/containers/${containerName(project, unit)}/logs`, { query, signal: abort.signal });
            const split = lineSplitter((l) => {
              const [ms, text] = stamped(l);
              if (ms) since = Math.floor(ms / 1000) + 1;
              onLine(text);
            });
            await readFrames(res.body, (f) => split(f.text));
          } catch {}
          // The container stopped or is not there yet: it may be (re)created; look again soon.
          tail = "all";
          if (!closed) await Bun.sleep(500);
        }
      })();
      return {
        close() {
          closed = true;
          abort?.abort();
        },
      };
    },

    rotate: () => 0,

    hookLog(unit, text) {
      if (!text) return;
      const ts = new Date().toISOString();
      const body = text.replace(/\n$/, "").split("\n").map((l) => `${ts} ${l}\n`).join("");
      ensurePrivateDir(dirname(side(unit)));
      const fd = openPrivate(side(unit), "append", 0o600);
      try {
        writeSync(fd, body);
      } finally {
        closeSync(fd);
      }
    },
  };
}
