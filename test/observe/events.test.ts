import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { formatEvent, formatTimestamp } from "../../src/commands/events.ts";
import type { SvEvent } from "../../src/engine/states.ts";
import { followEvents, readEvents } from "../../src/observe/events.ts";
import { appendEvents } from "../../src/store/events.ts";
import { type Paths, projectPaths } from "../../src/paths.ts";
import { SV, events, fixtureCommand, freePort, isAlive, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

let seq = 0;
function ev(service: string, reason = `r${++seq}`, over: Partial<SvEvent> = {}): SvEvent {
  return { ts: new Date(Date.UTC(2026, 10, 21, 10, 0, 0, seq)).toISOString(), service, from: "stopped", to: "starting", reason, pid: 100 + seq, ...over };
}

/** A project with its state dir, as the store's withState makes it before it appends. */
function setup(): Paths {
  const paths = projectPaths(tempProject().root);
  mkdirSync(paths.stateDir);
  return paths;
}

/** Collect what a follower yields while `during` runs, until it has `count` events (not counting "filler" ones). */
async function follow(paths: Paths, opts: Parameters<typeof followEvents>[1], count: number, during: () => void | Promise<void>): Promise<SvEvent[]> {
  const stop = new AbortController();
  const got: SvEvent[] = [];
  const done = (async () => {
    for await (const e of followEvents(paths, { pollMs: 10, ...opts, signal: stop.signal })) got.push(e);
  })();
  try {
    await during();
    await waitFor(() => got.filter((e) => e.service !== "filler").length >= count, `${count} events (got ${got.length})`);
  } finally {
    stop.abort();
    await done;
  }
  return got;
}

describe("appendEvents / readEvents", () => {
  test("round-trips, oldest first, one JSON object per line", () => {
    const paths = setup();
    const events = [ev("api"), ev("db"), ev("api.0")];
    appendEvents(paths, events.slice(0, 2));
    appendEvents(paths, events.slice(2));
    appendEvents(paths, []);
    expect(readEvents(paths)).toEqual(events);
    expect(readFileSync(paths.eventsFile, "utf8").trim().split("\n").map((l) => JSON.parse(l))).toEqual(events);
  });

  test("no file: no events", () => {
    expect(readEvents(setup(), { last: 10 })).toEqual([]);
  });

  test("last N and service filters (a service matches its instances; a unit only itself)", () => {
    const paths = setup();
    const all = [ev("api"), ev("db"), ev("api.0"), ev("api.1"), ev("apix"), ev("db")];
    appendEvents(paths, all);
    expect(readEvents(paths, { last: 2 })).toEqual(all.slice(4));
    expect(readEvents(paths, { last: 0 })).toEqual([]);
    expect(readEvents(paths, { services: ["api"] }).map((e) => e.service)).toEqual(["api", "api.0", "api.1"]);
    expect(readEvents(paths, { services: ["api.1", "db"], last: 2 }).map((e) => e.service)).toEqual(["api.1", "db"]);
  });

  test("a torn last line and garbage lines are skipped", () => {
    const paths = setup();
    const good = [ev("api"), ev("db")];
    appendEvents(paths, [good[0]!]);
    appendFileSync(paths.eventsFile, "not json\n{\"service\":\"x\"}\n");
    appendEvents(paths, [good[1]!]);
    appendFileSync(paths.eventsFile, '{"ts":"2026-');
    expect(readEvents(paths)).toEqual(good);
  });

  test("tails a file much larger than one read chunk, across line boundaries", () => {
    const paths = setup();
    const many = Array.from({ length: 3000 }, (_, i) => ev(i % 7 === 0 ? "db" : "api", `reason ${"x".repeat(i % 50)} ${i}`));
    appendEvents(paths, many);
    expect(statSync(paths.eventsFile).size).toBeGreaterThan(3 * 64 * 1024);
    expect(readEvents(paths, { last: 1000 })).toEqual(many.slice(-1000));
    expect(readEvents(paths)).toEqual(many);
    expect(readEvents(paths, { services: ["db"], last: 5 })).toEqual(many.filter((e) => e.service === "db").slice(-5));
  });

  test("rotates past the size limit and reads across the rotated file", () => {
    const paths = setup();
    const first = Array.from({ length: 20 }, () => ev("api"));
    appendEvents(paths, first, 1000);
    const second = [ev("api"), ev("db")];
    appendEvents(paths, second, 1000);
    expect(existsSync(`${paths.eventsFile}.1`)).toBe(true);
    expect(readEvents(paths, { last: 2 })).toEqual(second);
    expect(readEvents(paths, { last: 5 })).toEqual([...first.slice(-3), ...second]);
    expect(readEvents(paths)).toEqual([...first, ...second]);
  });
});

describe("followEvents", () => {
  test("yields the last N, then each new event as it is appended", async () => {
    const paths = setup();
    const old = [ev("api"), ev("db"), ev("api")];
    appendEvents(paths, old);
    const fresh = [ev("api"), ev("db")];
    const got = await follow(paths, { last: 2 }, 4, () => appendEvents(paths, fresh));
    expect(got).toEqual([...old.slice(1), ...fresh]);
  });

  test("waits for the file to exist, filters by service", async () => {
    const paths = setup();
    const events = [ev("db"), ev("api.0"), ev("api")];
    const got = await follow(paths, { services: ["api"], last: 10 }, 2, async () => {
      await Bun.sleep(30);
      appendEvents(paths, events);
    });
    expect(got).toEqual(events.slice(1));
  });

  test("a line written in two pieces is yielded once, whole", async () => {
    const paths = setup();
    appendEvents(paths, [ev("api")]);
    const e = ev("db");
    const line = `${JSON.stringify(e)}\n`;
    const got = await follow(paths, {}, 1, async () => {
      appendFileSync(paths.eventsFile, line.slice(0, 20));
      await Bun.sleep(50);
      appendFileSync(paths.eventsFile, line.slice(20));
    });
    expect(got).toEqual([e]);
  });

  test("follows through a rotation without losing or repeating events", async () => {
    const paths = setup();
    appendEvents(paths, [ev("api")]);
    const before = [ev("api"), ev("db")];
    const after = [ev("api"), ev("db")];
    const got = await follow(paths, {}, 4, async () => {
      appendEvents(paths, before, 1_000_000);
      await Bun.sleep(40);
      appendEvents(paths, Array.from({ length: 30 }, () => ev("filler")), 1_000_000);
      renameSync(paths.eventsFile, `${paths.eventsFile}.1`);
      appendEvents(paths, after, 1_000_000);
    });
    expect(got.filter((e) => e.service !== "filler")).toEqual([...before, ...after]);
  });

  test("starts over when the file is truncated", async () => {
    const paths = setup();
    appendEvents(paths, Array.from({ length: 10 }, () => ev("api")));
    const e = ev("db");
    const got = await follow(paths, {}, 1, async () => {
      await Bun.sleep(30);
      writeFileSync(paths.eventsFile, `${JSON.stringify(e)}\n`);
    });
    expect(got).toEqual([e]);
  });

  test("ends when aborted", async () => {
    const paths = setup();
    const stop = new AbortController();
    const it = followEvents(paths, { signal: stop.signal, pollMs: 5_000 });
    const next = it.next();
    stop.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });
});

describe("formatEvent", () => {
  const local = new Date(2026, 10, 21, 10, 0, 0, 7).toISOString();
  test("a transition", () => {
    const e: SvEvent = { ts: local, service: "api", from: "starting", to: "running", reason: "health check passed", pid: 4242 };
    expect(formatTimestamp(local)).toBe("2026-11-21 10:00:00.007");
    expect(formatEvent(e, { nameWidth: 6 })).toBe("2026-11-21 10:00:00.007  api     starting -> running    health check passed  pid 4242");
  });
  test("a decision (from === to) shows the state alone; no pid, no pid column", () => {
    const e: SvEvent = { ts: local, service: "db", from: "running", to: "running", reason: "unhealthy: connection refused", pid: null };
    expect(formatEvent(e)).toBe("2026-11-21 10:00:00.007  db  running                unhealthy: connection refused");
  });
  test("a restart scheduled by the policy", () => {
    const e: SvEvent = { ts: local, service: "api", from: "running", to: "restarting", reason: "api exited with code 1; restart in 200 ms (attempt 3)", pid: 4242 };
    expect(formatEvent(e)).toBe("2026-11-21 10:00:00.007  api  running -> restarting  api exited with code 1; restart in 200 ms (attempt 3)  pid 4242");
  });
  test("colour only on the state change", () => {
    const e: SvEvent = { ts: local, service: "db", from: "running", to: "error", reason: "exited", pid: null };
    expect(formatEvent(e, { color: true })).toContain("\x1b[31mrunning -> error\x1b[39m");
  });
});

describe("sv events", () => {
  function project() {
    const port = freePort();
    return tempProject({
      "services/web.yml": `command: ${fixtureCommand("tcp-server.ts")}\nport: ${port}\n`,
      "services/job.yml": "type: oneshot\ncommand: 'true'\n",
    });
  }

  test("prints the log as lines, filters, limits, and --json prints one document", async () => {
    const p = project();
    expect((await sv(p.root, ["up"])).code).toBe(0);
    expect((await sv(p.root, ["down", "web"])).code).toBe(0);

    const r = await sv(p.root, ["events"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const shape = lines.map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  /, "").replace(/pid \d+$/, "pid N").replace(/ +/g, " "));
    // The intent to start is recorded before anything is created: it has no pid yet.
    expect(shape.sort()).toEqual(
      [
        "job stopped -> starting sv up",
        "job starting -> completed exited with code 0 pid N",
        "web stopped -> starting sv up",
        "web starting -> running health check passed pid N",
        "web running -> stopping sv down pid N",
        "web stopping -> stopped stopped",
      ].sort(),
    );

    const web = await sv(p.root, ["events", "web", "-n", "2"]);
    expect(web.stdout.trimEnd().split("\n").map((l) => l.split(/ {2,}/)[2])).toEqual(["running -> stopping", "stopping -> stopped"]);

    const json = await sv(p.root, ["events", "--json", "-n", "1"]);
    const doc = JSON.parse(json.stdout);
    expect(doc.events).toHaveLength(1);
    expect(doc.events[0]).toMatchObject({ service: "web", from: "stopping", to: "stopped" });
    expect(Object.keys(doc.events[0]).sort()).toEqual(["from", "pid", "reason", "service", "to", "ts"]);

    const all = JSON.parse((await sv(p.root, ["events", "--json", "-n", "all"])).stdout);
    expect(all.events).toHaveLength(6);
  });

  test("a crash is running -> restarting with the end's reason; reconcile restarts it; down stops a restarting unit", async () => {
    const p = tempProject({ "services/web.yml": JSON.stringify({ command: ["sleep", "1000"] }) });
    expect((await sv(p.root, ["up", "web"])).code).toBe(0);
    const first = (await unitStatus(p.root, "web")).pid!;
    // Kill the service's own process (not its group): its relay records how it ended.
    process.kill(first, "SIGKILL");
    await waitFor(async () => (await unitStatus(p.root, "web")).state === "restarting", "web to be restarting");
    expect((await sv(p.root, ["reconcile"])).code).toBe(0);
    const second = await unitStatus(p.root, "web");
    expect(second).toMatchObject({ state: "running", restarts: 1 });
    expect(isAlive(second.pid!)).toBe(true);
    process.kill(second.pid!, "SIGKILL");
    await waitFor(async () => (await unitStatus(p.root, "web")).state === "restarting", "web to be restarting again");
    expect((await sv(p.root, ["down", "web"])).code).toBe(0);

    expect(events(p.root).map((e) => [e.from, e.to, e.reason, e.pid])).toEqual([
      ["stopped", "starting", "sv up", null],
      ["starting", "running", "started", first],
      // The first crash restarts at once: no delay to mention.
      ["running", "restarting", "web was killed by SIGKILL", first],
      ["restarting", "starting", "restarting: web was killed by SIGKILL", null],
      ["starting", "running", "started", second.pid],
      // A consecutive failure backs off: restart_delay (default 100 ms).
      ["running", "restarting", "web was killed by SIGKILL; restart in 100 ms (attempt 2)", second.pid],
      ["restarting", "stopped", "sv down", second.pid],
    ]);
    const r = await sv(p.root, ["events", "web", "-n", "3"]);
    expect(r.stdout.trimEnd().split("\n").map((l) => l.split(/ {2,}/)[2])).toEqual(["starting -> running", "running -> restarting", "restarting -> stopped"]);
  });

  test("usage errors: unknown service, bad -n", async () => {
    const p = project();
    const unknown = await sv(p.root, ["events", "wbe"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown service "wbe"');
    expect(unknown.stderr).toContain('did you mean "web"?');
    const bad = await sv(p.root, ["events", "-n", "ten"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-n must be a number or "all", not "ten"');
  });

  test("-f --json follows new events as JSON lines; Ctrl-C exits 0", async () => {
    const p = project();
    // Default -n: events written before the follower is ready still come out (from the tail), once.
    const proc = Bun.spawn([SV, "events", "-f", "--json", "web"], { cwd: p.root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    try {
      const lines: string[] = [];
      const reader = (async () => {
        const decoder = new TextDecoder();
        let buf = "";
        for await (const chunk of proc.stdout) {
          buf += decoder.decode(chunk);
          const parts = buf.split("\n");
          buf = parts.pop()!;
          lines.push(...parts);
        }
      })();
      expect((await sv(p.root, ["up", "web", "job"])).code).toBe(0);
      await waitFor(() => lines.length >= 2, "two followed events of web");
      expect(lines.map((l) => JSON.parse(l)).map((e) => [e.service, e.from, e.to])).toEqual([
        ["web", "stopped", "starting"],
        ["web", "starting", "running"],
      ]);
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(130);
      await reader;
      expect(await new Response(proc.stderr).text()).toBe("");
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
