// `sv init` in the foreground: every unit's output, as it is written to its log, also on sv's stdout behind
// its name (`api   | listening on 8080`, as compose prints), or one JSON object a line with --log-format json.
// A unit's stdout and stderr share its log file, so both come out on stdout. Logs that are files are
// followed from their end as they are when first seen (through rotation); an engine's (a container's) through
// its backend's follow. Polled every POLL_MS; a reader that has gone only loses the copy, never the log.
import type { Ctx } from "../engine/context.ts";
import { unitNames } from "../engine/units.ts";
import { output, paint, type Color } from "../output/style.ts";
import { followLog, streamFollower, type Follower } from "../runtime/logs/follow.ts";
import type { StoreState } from "../store/store.ts";

const POLL_MS = 100;
const PALETTE: Color[] = ["cyan", "yellow", "green", "magenta", "blue", "red"];

interface Source {
  follower: Follower;
  /** What it follows: the log file, or the handle whose engine stream it reads. */
  key: string;
}

export class ServiceOutput {
  private sources = new Map<string, Source>();
  private prefixes = new Map<string, { width: number; text: string }>();
  private width = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private writing: Promise<void> = Promise.resolve();
  private gone = false;

  constructor(private readonly color: boolean) {}

  /** Follow every unit of the project that is, or may come to be, in `state` (new services after a reload too). */
  sync(ctx: Ctx, state: StoreState): void {
    for (const svc of ctx.project.services.values()) {
      const logs = ctx.backends.for(svc).logs;
      for (const unit of unitNames(svc, state)) {
        const file = logs.file(unit);
        if (file !== null) {
          if (this.sources.get(unit)?.key !== file) this.replace(unit, { key: file, follower: followLog(file) });
          continue;
        }
        // An engine's log exists with its unit: followed from when it runs, anew for each new handle.
        const u = state.units[unit];
        if (!logs.follow || !u?.handle || u.state !== "running") continue;
        const key = JSON.stringify(u.handle);
        if (this.sources.get(unit)?.key !== key) this.replace(unit, { key, follower: streamFollower(logs.follow.bind(logs), unit, 0) });
      }
    }
    this.width = Math.max(this.width, ...[...this.sources.keys()].map((u) => u.length));
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), POLL_MS);
  }

  /** Copy what is left, and stop following. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
    await this.writing;
    for (const s of this.sources.values()) s.follower.close();
    this.sources.clear();
  }

  private replace(unit: string, source: Source): void {
    this.sources.get(unit)?.follower.close();
    this.sources.set(unit, source);
  }

  private format(unit: string, line: string): string {
    if (output.logFormat === "json") return JSON.stringify({ ts: new Date().toISOString(), service: unit, line });
    let prefix = this.prefixes.get(unit);
    if (prefix?.width !== this.width) {
      const color = PALETTE[[...this.sources.keys()].indexOf(unit) % PALETTE.length] ?? "cyan";
      prefix = { width: this.width, text: `${paint(`${unit.padEnd(this.width)} |`, color, this.color)} ` };
      this.prefixes.set(unit, prefix);
    }
    return prefix.text + line;
  }

  private flush(): void {
    let text = "";
    for (const [unit, s] of this.sources) for (const line of s.follower.poll()) text += `${this.format(unit, line)}\n`;
    if (!text || this.gone) return;
    this.writing = this.writing.then(async () => {
      try {
        await Bun.write(Bun.stdout, text);
      } catch {
        this.gone = true; // stdout closed: PID 1 carries on, the logs keep everything
      }
    });
  }
}
