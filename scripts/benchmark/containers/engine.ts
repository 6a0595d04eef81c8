// The engines the container phases run against: test/helpers/engines.ts's private podman API service or
// dockerd (own socket, own dirs, TEST_IMAGE imported), started on first use and stopped by stopEngines()
// (bench.ts calls it on every exit path, SIGINT included; the helper's own exit hook and `bun
// test/helpers/engines.ts cleanup` catch the rest). Whatever the benchmark leaves in an engine goes with it:
// stop() removes every container, network and volume before it stops the daemon.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Engine, type EngineKind, STATE_ROOT, startEngine, timings } from "../../../test/helpers/engines.ts";

export { type Engine, type EngineKind, ENGINE_KINDS, TEST_IMAGE } from "../../../test/helpers/engines.ts";

const started = new Map<EngineKind, Promise<Engine>>();
const notes: string[] = [];

/** Why an engine of `kind` cannot run here, or null. */
export function engineUnavailable(kind: EngineKind): string | null {
  if (process.getuid?.() !== 0) return "the test engines run rootful: run the benchmark as root";
  const bin = kind === "podman" ? "podman" : "dockerd";
  if (!Bun.which(bin)) return `${bin} not on PATH`;
  if (!Bun.which("busybox") && !["/bin/busybox", "/usr/bin/busybox"].some((p) => Bun.file(p).size > 0)) return "no busybox (install busybox-static): the test image is built from it";
  return null;
}

/** The engine of `kind`, started (with TEST_IMAGE) the first time it is asked for. */
export function engineFor(kind: EngineKind, log: (line: string) => void): Promise<Engine> {
  let e = started.get(kind);
  if (!e) {
    e = startEngine(kind).then(async (engine) => {
      const v = (await engine.api("GET", "/version").catch(() => null)) as { Version?: string; ApiVersion?: string } | null;
      const line = `${kind} ${v?.Version ?? "?"} (API ${v?.ApiVersion ?? "?"}): engine pid ${engine.pid} on ${engine.socket}, up in ${timings.startMs.toFixed(0)} ms, image imported in ${timings.importMs.toFixed(0)} ms`;
      log(line);
      notes.push(line);
      return engine;
    });
    started.set(kind, e);
    e.catch(() => started.delete(kind));
  }
  return e;
}

/** One line per engine started, for the report. */
export const engineNotes = (): string[] => [...notes];

/** Stop the engine of `kind` if one was started here (it removes its containers first). */
export async function stopEngine(kind: EngineKind, log: (line: string) => void): Promise<void> {
  const p = started.get(kind);
  if (!p) return;
  started.delete(kind);
  const engine = await p.catch(() => null);
  if (!engine) return;
  try {
    await engine.stop();
  } catch (e) {
    log(`stopping the ${kind} engine failed: ${(e as Error).message}`);
  }
}

/** Stop every engine started here, and remove the test image's rootfs the helper built for this process. */
export async function stopEngines(log: (line: string) => void): Promise<void> {
  for (const kind of [...started.keys()]) await stopEngine(kind, log);
  // STATE_ROOT/image-<pid>-<ticks>: the helper leaves it to the next cleanupStale(), once this process is gone
  let names: string[] = [];
  try {
    names = readdirSync(STATE_ROOT);
  } catch {}
  for (const n of names) if (n.startsWith(`image-${process.pid}-`)) rmSync(join(STATE_ROOT, n), { recursive: true, force: true });
}
