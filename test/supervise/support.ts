// Shared pieces of the supervision tests: a streaming `sv watch`, a webhook receiver, a cron-style loop.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type EventLine, SV, events, killAfterTest, sv, waitFor } from "../helpers/project.ts";

/** A running `sv watch` whose output is read as it comes. */
export interface Watch {
  pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Wait until its output matches `re`. */
  waitOutput(re: RegExp, message: string, timeoutMs?: number): Promise<void>;
  /** SIGINT (Ctrl-C), then wait for it to exit; its exit code. Safe to call twice. */
  stop(): Promise<number>;
}

/** Start `sv watch` (no TTY) in `root`. Killed after the test if the test did not stop it. */
export function startWatch(root: string, args: string[] = []): Watch {
  const proc = Bun.spawn([SV, "watch", ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  killAfterTest(proc.pid);
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  return {
    pid: proc.pid,
    output: () => text,
    waitOutput: (re, message, timeoutMs = 15_000) => waitFor(() => re.test(text), `${message}; watch printed:\n${text}`, timeoutMs).then(() => undefined),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGINT");
      const code = await proc.exited;
      await pumped;
      return code;
    },
  };
}

/** A local HTTP server standing in for an alerting endpoint: records every POSTed JSON body. */
export function webhookServer(): { url: string; bodies: unknown[]; stop(): void } {
  const bodies: unknown[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method !== "POST") return new Response("POST only", { status: 405 });
      bodies.push(await req.json());
      return new Response("ok");
    },
  });
  return { url: `http://127.0.0.1:${server.port}/alerts`, bodies, stop: () => server.stop(true) };
}

/** Run `sv reconcile` again and again (like cron, only faster) until `done` holds; every run's result. */
export async function reconcileUntil<T>(root: string, done: () => T | Promise<T>, message: string, timeoutMs = 20_000) {
  const runs: { code: number; stdout: string; stderr: string }[] = [];
  await waitFor(
    async () => {
      runs.push(await sv(root, ["reconcile"]));
      return done();
    },
    `${message}; reconcile printed:\n${runs.map((r) => r.stdout + r.stderr).join("")}`,
    timeoutMs,
  );
  return runs;
}

/** The pids (and SV_INSTANCE) a service wrapped in record-pid.sh recorded, one entry per spawn. */
export function spawns(file: string): { pid: number; instance: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [pid, instance = ""] = l.split(" ");
      return { pid: Number(pid), instance };
    });
}

/** The events of one unit, in order, without the ts. */
export function unitEvents(root: string, unit: string): Omit<EventLine, "ts">[] {
  return events(root)
    .filter((e) => e.service === unit)
    .map(({ ts: _, ...rest }) => rest);
}

/** SIGKILL the whole process group of a service's pid (its relay too), as the OOM killer or an operator might. */
export function killGroup(pid: number): void {
  process.kill(-groupOf(pid), "SIGKILL");
}

/** The process group of `pid`, from /proc (a service's group is led by its sv relay). */
export function groupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

export const at = (root: string, path: string) => join(root, path);
