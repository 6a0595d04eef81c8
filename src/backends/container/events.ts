// sv watch's view of container exits: the engine's event stream (`die` of the project's containers), so
// a crash is acted on as soon as a process exit would be. It reconnects, with a backoff, if the stream ends.
import type { Project } from "../../config/schema.ts";
import type { ExitWatcher, Handle } from "../backend.ts";
import type { EngineClient } from "./client.ts";
import { LABEL } from "./names.ts";

export function containerEvents(engine: () => EngineClient, project: Project, onEnd: () => void): ExitWatcher {
  /** container id -> unit */
  let targets = new Map<string, string>();
  const dead = new Set<string>();
  let abort: AbortController | null = null;
  let closed = false;

  async function run(): Promise<void> {
    // No `event: ["die"]` filter: podman 4.3 matches it against its own name for the event ("died"), so nothing comes.
    const filters = JSON.stringify({ type: ["container"], label: [`${LABEL.project}=${project.name}`] });
    for (let backoff = 250; !closed; backoff = Math.min(backoff * 2, 10_000)) {
      abort = new AbortController();
      try {
        await engine().stream(
          "GET",
          "/events",
          (o) => {
            backoff = 250;
            const id: string | undefined = o.Actor?.ID ?? o.id;
            if (!id || (o.Action ?? o.status) !== "die" || !targets.has(id)) return;
            // dockerd sends `die` before its container list says so; an inspect waits until the exit is recorded.
            void engine().request("GET", `/containers/${id}/json`).catch(() => {}).then(() => (dead.add(id), onEnd()));
          },
          { query: { filters }, signal: abort.signal },
        );
      } catch {}
      if (!closed) await Bun.sleep(backoff);
    }
  }

  return {
    sync(next: Map<string, Handle>) {
      targets = new Map([...next].filter(([, h]) => typeof h.id === "string").map(([unit, h]) => [h.id as string, unit]));
      for (const id of [...dead]) if (!targets.has(id)) dead.delete(id);
      if (targets.size > 0 && abort === null && !closed) void run();
    },
    ended: () => [...dead].map((id) => targets.get(id)!).filter(Boolean),
    close() {
      closed = true;
      abort?.abort();
    },
  };
}
