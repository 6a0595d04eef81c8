// What the end-to-end container tests share: one real engine per describe (each file runs every case on
// podman and on dockerd), a temp project pointed at that engine under a unique name, what the engine
// still holds of a project, and a compiled sv run in the background whose output can be waited on.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { ENGINE_KINDS, type Engine, type EngineKind, startEngine } from "../helpers/engines.ts";
import { SV, type RunResult, type TempProject, killAfterTest, tempProject, waitFor } from "../helpers/project.ts";

export { TEST_IMAGE } from "../helpers/engines.ts";

/** busybox httpd serving /www ("hello") on port 80; as PID 1 it would ignore SIGTERM, so a shell passes it on. */
export const HTTPD = ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"];

/** A shell as PID 1 running `script`, then idling until SIGTERM (which it honours at once). */
export const idle = (script: string) => ["/bin/sh", "-c", `trap 'exit 0' TERM; ${script}; sleep 1000 & wait`];

/** `body(engine)` once per engine kind, in a describe of its own that starts the engine first and stops it after. */
export function onEachEngine(title: string, body: (engine: () => Engine, kind: EngineKind) => void): void {
  for (const kind of ENGINE_KINDS) {
    describe(`${title} (${kind})`, () => {
      let engine: Engine | undefined;
      beforeAll(async () => {
        engine = await startEngine(kind);
      }, 120_000);
      afterAll(async () => {
        await engine?.stop();
      }, 120_000);
      body(() => {
        if (!engine) throw new Error(`the ${kind} engine did not start`);
        return engine;
      }, kind);
    });
  }
}

export interface ContainerProject extends TempProject {
  /** sv.yml `name:`: the containers are `<name>-<unit>`, labelled dev.sv.project=<name>. */
  name: string;
  /** (Re)write services/<name>.yml (written as JSON, which is YAML). */
  service(name: string, definition: Record<string, unknown>): void;
}

/** A temp project on `engine` (sv.yml `docker.host`) with a unique name, and these services. */
export function containerProject(engine: Engine, services: Record<string, Record<string, unknown>>, settings: Record<string, unknown> = {}): ContainerProject {
  const name = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  const p = tempProject({ "sv.yml": `${JSON.stringify({ name, docker: { host: engine.host }, ...settings })}\n` });
  const service = (svc: string, definition: Record<string, unknown>) => p.write(`services/${svc}.yml`, `${JSON.stringify(definition, null, 2)}\n`);
  for (const [svc, definition] of Object.entries(services)) service(svc, definition);
  return { ...p, name, service };
}

/** What the engine holds of the project (by its label): containers, volumes, networks. */
export const leftovers = (engine: Engine, project: string) => engine.leftovers(`dev.sv.project=${project}`);

/** The project's containers, as GET /containers/json?all=1 filtered by its label lists them. */
export async function containersOf(engine: Engine, project: string): Promise<{ Id: string; Names: string[]; State: string }[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`dev.sv.project=${project}`] }));
  return engine.api("GET", `/containers/json?all=1&filters=${filters}`);
}

/** After the whole project's `sv down`: no container of it, no network, and (unless kept) no volume. */
export async function expectNothingLeft(engine: Engine, project: string, keptVolumes: string[] = []): Promise<void> {
  expect(await containersOf(engine, project)).toEqual([]);
  const left = await leftovers(engine, project);
  expect(left).toEqual({ containers: [], volumes: keptVolumes, networks: [] });
}

/** GET /containers/NAME/json, or null when the engine has no such container. */
export async function inspect(engine: Engine, ref: string): Promise<{ Id: string; State: { Status: string; Running: boolean; ExitCode: number; StartedAt: string }; Config: { Env: string[]; Labels: Record<string, string> } } | null> {
  try {
    return await engine.api("GET", `/containers/${encodeURIComponent(ref)}/json`);
  } catch (e) {
    if (/\b404\b|no such container/i.test((e as Error).message)) return null;
    throw e;
  }
}

/** The body of GET url, or null when nothing answers (within a second). */
export async function fetchText(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

/** A compiled sv left running whose stdout and stderr can be waited on as they come. */
export interface Running {
  pid: number;
  out(): string;
  err(): string;
  /** Wait until stdout contains `text` (the deadline's error shows what came). */
  until(text: string, timeoutMs?: number): Promise<void>;
  /** Send `signal` and wait for the exit. */
  stop(signal: NodeJS.Signals): Promise<RunResult>;
  done: Promise<RunResult>;
}

/** Start the compiled sv in the background (no TTY, NO_COLOR); killed after the test if still running. */
export function svRunning(root: string, args: string[], timeoutMs = 60_000): Running {
  const proc = Bun.spawn([SV, ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1", CI: "true" }, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
  killAfterTest(proc.pid);
  let out = "";
  let err = "";
  const read = async (stream: ReadableStream<Uint8Array>, into: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) into(decoder.decode(chunk, { stream: true }));
  };
  const reading = Promise.all([read(proc.stdout, (s) => (out += s)), read(proc.stderr, (s) => (err += s))]);
  const done = reading.then(async () => ({ code: await proc.exited, stdout: out, stderr: err }));
  return {
    pid: proc.pid,
    out: () => out,
    err: () => err,
    async until(text, ms = 10_000) {
      try {
        await waitFor(() => out.includes(text), `"${text}" in the output of sv ${args.join(" ")}`, ms);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nstdout:\n${out}\nstderr:\n${err}`);
      }
    },
    async stop(signal) {
      proc.kill(signal);
      return done;
    },
    done,
  };
}
