// The events endpoint: the transition log as server-sent events, with a heartbeat, until the client or the server goes.
import type { Ctx } from "../../engine/context.ts";
import { sharedEvents } from "../event-hub.ts";

/** An SSE comment this often keeps proxies and clients from timing out an idle stream. */
export const SSE_HEARTBEAT_MS = 15_000;

/** Server-sent events: each event as `data: {json}`, and a comment every heartbeat. */
export function eventStream(
  ctx: Ctx,
  opts: { services: string[]; last: number; heartbeatMs: number; signal: AbortSignal; streams: Set<AbortController>; release: () => void },
): Response {
  const ac = new AbortController();
  opts.streams.add(ac);
  opts.signal.addEventListener("abort", () => ac.abort());
  const encoder = new TextEncoder();
  const pump = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    const send = (text: string) => {
      if (!ac.signal.aborted) controller.enqueue(encoder.encode(text));
    };
    const heartbeat = setInterval(() => send(": keepalive\n\n"), opts.heartbeatMs);
    try {
      send(": sv events\nretry: 2000\n\n");
      for await (const e of sharedEvents(ctx.paths, { services: opts.services, last: opts.last, signal: ac.signal })) send(`data: ${JSON.stringify(e)}\n\n`);
    } catch {
      // The client went away mid-write; nothing to tell anyone.
    } finally {
      clearInterval(heartbeat);
      opts.streams.delete(ac);
      opts.release();
      try {
        controller.close();
      } catch {}
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      void pump(controller);
    },
    cancel() {
      ac.abort();
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no" } });
}
