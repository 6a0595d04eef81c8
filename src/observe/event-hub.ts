// One follower of events.jsonl shared by every API event stream: N streams cost one fd and one poll.
import type { Paths } from "../paths.ts";
import { type Follower, followLog } from "../runtime/logs/follow.ts";
import type { SvEvent } from "../store/unit.ts";
import { type EventFilter, FOLLOW_POLL_MS, followEvents, matcher, parseLines, tailMatching } from "./events.ts";

interface Subscriber {
  match: (e: SvEvent) => boolean;
  queue: SvEvent[];
  wake: () => void;
}

interface Hub {
  follower: Follower;
  timer: ReturnType<typeof setInterval>;
  subscribers: Set<Subscriber>;
}

const hubs = new Map<string, Hub>();

/** Tries to line a new stream's tail up with the shared follower before it gives that stream its own. */
const JOIN_ATTEMPTS = 4;

/** Hand what the shared follower read to every subscriber whose filter it matches. */
function pump(hub: Hub): void {
  const events = parseLines(hub.follower.poll());
  if (events.length === 0) return;
  for (const s of hub.subscribers) {
    let woke = false;
    for (const e of events) if (s.match(e)) (s.queue.push(e), (woke = true));
    if (woke) s.wake();
  }
}

/**
 * Like followEvents, but served from one follower per events file shared by every caller: the last
 * `last` matching events, then each new one, until `signal` aborts. The tail is read at the very
 * offset the shared follower has reached (read again if a line landed in between), so nothing is
 * lost or repeated; should appends never pause, this one caller follows on its own (followEvents).
 */
export async function* sharedEvents(paths: Paths, opts: EventFilter & { last?: number; signal: AbortSignal; pollMs?: number }): AsyncGenerator<SvEvent> {
  const file = paths.eventsFile;
  const match = matcher(opts.services);
  const sub: Subscriber = { match, queue: [], wake: () => {} };
  let hub = hubs.get(file);
  let joined = false;
  if (!hub) {
    const { events, tail } = tailMatching(file, opts.last ?? 0, match);
    const created: Hub = { follower: followLog(file, tail), subscribers: new Set(), timer: setInterval(() => pump(created), opts.pollMs ?? FOLLOW_POLL_MS) };
    hubs.set(file, (hub = created));
    sub.queue.push(...events);
    joined = true;
  } else {
    for (let i = 0; i < JOIN_ATTEMPTS && !joined; i++) {
      pump(hub); // the others get what is there now; the follower stands at the end of the file
      const { events, tail } = tailMatching(file, opts.last ?? 0, match);
      const at = hub.follower.position();
      if (at.ino === tail.ino && at.offset === tail.offset) (sub.queue.push(...events), (joined = true));
    }
  }
  if (!joined) {
    if (hub.subscribers.size === 0) close(file, hub);
    yield* followEvents(paths, opts);
    return;
  }
  hub.subscribers.add(sub);
  const onAbort = () => sub.wake();
  opts.signal.addEventListener("abort", onAbort);
  try {
    while (!opts.signal.aborted) {
      if (sub.queue.length > 0) {
        yield* sub.queue.splice(0);
        continue;
      }
      await new Promise<void>((resolve) => (sub.wake = resolve));
    }
  } finally {
    opts.signal.removeEventListener("abort", onAbort);
    hub.subscribers.delete(sub);
    if (hub.subscribers.size === 0) close(file, hub);
  }
}

function close(file: string, hub: Hub): void {
  clearInterval(hub.timer);
  hub.follower.close();
  if (hubs.get(file) === hub) hubs.delete(file);
}

/** How many shared followers are open (one per events file with streams): for tests. */
export function openFollowers(): number {
  return hubs.size;
}
