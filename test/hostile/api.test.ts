// The API of a real `sv watch --listen` under hostile clients: malformed escapes and odd methods get
// answers, not a 500 or a dropped connection; past the stream caps (8 per token, 64 in all) a client
// gets 503 with Retry-After, every open stream shares one fd on events.jsonl, and the watch still heals.
import { expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { BUN, fixture, freePort, isAlive, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";
import { killGroup, startWatch, type Watch } from "../supervise/support.ts";
import { STREAM_LIMITS } from "../../src/observe/api/limits.ts";

/** Nine tokens: eight fill the 64 streams in all (8 each), the ninth finds no room. */
const TOKENS = Array.from({ length: 9 }, (_, i) => `hostile-token-${i}-0123456789abcdef`);

async function watchWithApi(): Promise<{ watch: Watch; url: string; root: string; port: number }> {
  const port = freePort();
  const p = tempProject({
    "sv.yml": `api:\n  tokens:\n${TOKENS.map((t) => `    - { token: ${t}, role: operate }\n`).join("")}`,
    "services/web.yml": JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port, restart_delay: "100ms" }),
  });
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const watch = startWatch(p.root, ["--interval", "500ms", "--listen", "127.0.0.1:0"]);
  await watch.waitOutput(/API on http:\/\/127\.0\.0\.1:\d+/, "watch to serve the API");
  const url = /API on (http:\/\/127\.0\.0\.1:\d+)/.exec(watch.output())![1]!;
  return { watch, url, root: p.root, port };
}

const auth = (token = TOKENS[0]!) => ({ Authorization: `Bearer ${token}` });

/** How many of `pid`'s fds are open on `file`. */
function fdsOn(pid: number, file: string): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;
}

test("a malformed percent-escape is 400 with a JSON error; PUT, DELETE, PATCH, OPTIONS are 405 with Allow", async () => {
  const { watch, url } = await watchWithApi();
  try {
    for (const path of ["/v1/services/%ZZ", "/v1/services/%E0%A4%A/logs", "/v1/services/%ZZ/start"]) {
      const res = await fetch(`${url}${path}`, { headers: auth() });
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.json()).toEqual({ error: `malformed percent-escape in ${path}` });
    }
    for (const [method, path, allow] of [["PUT", "/v1/services", "GET"], ["DELETE", "/v1/services/web", "GET"], ["PATCH", "/v1/events", "GET"], ["OPTIONS", "/metrics", "GET"], ["PUT", "/v1/services/web/stop", "POST"]] as const) {
      const res = await fetch(`${url}${path}`, { method, headers: auth() });
      expect([method, path, res.status, res.headers.get("allow")]).toEqual([method, path, 405, allow]);
      expect(await res.json()).toEqual({ error: `${method} is not allowed on ${path}` });
    }
    expect((await fetch(`${url}/v1/services`, { headers: auth() })).status).toBe(200);
  } finally {
    expect(await watch.stop()).toBe(130);
  }
});

/** What each open stream received, in order of opening. */
const received: string[][] = [];

/** An open SSE stream: resolves once its first bytes (the `: sv events` comment) arrived; the rest go to `received`. */
async function openStream(url: string, token: string, ac: AbortController): Promise<Response> {
  const res = await fetch(`${url}/v1/events`, { headers: auth(token), signal: ac.signal });
  if (res.status === 200) {
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toStartWith(": sv events\n");
    const got: string[] = [];
    received.push(got);
    void (async () => {
      const decoder = new TextDecoder();
      for (let r = await reader.read(); !r.done; r = await reader.read()) got.push(decoder.decode(r.value, { stream: true }));
    })().catch(() => undefined);
  }
  return res;
}

test("stream caps: 8 per token and 64 in all, then 503 with Retry-After; one fd for all; the watch heals meanwhile", async () => {
  expect(STREAM_LIMITS).toEqual({ perToken: 8, total: 64 });
  const { watch, url, root } = await watchWithApi();
  const ac = new AbortController();
  const eventsFile = join(root, ".sv/events.jsonl");
  try {
    const before = fdsOn(watch.pid, eventsFile);
    // Token 0 fills its 8; the 9th is refused for this token while others still get theirs.
    const mine = await Promise.all(Array.from({ length: 8 }, () => openStream(url, TOKENS[0]!, ac)));
    expect(mine.map((r) => r.status)).toEqual(Array(8).fill(200));
    const ninth = await openStream(url, TOKENS[0]!, ac);
    expect(ninth.status).toBe(503);
    expect(ninth.headers.get("retry-after")).toBe("5");
    expect(await ninth.json()).toEqual({ error: "too many event streams (for this token); try again later" });

    // Seven more tokens fill the 64 in all; then a fresh token is refused too.
    const rest = await Promise.all(TOKENS.slice(1, 8).flatMap((t) => Array.from({ length: 8 }, () => openStream(url, t, ac))));
    expect(rest.filter((r) => r.status === 200)).toHaveLength(56);
    const full = await openStream(url, TOKENS[8]!, ac);
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("5");
    expect(await full.json()).toEqual({ error: "too many event streams (in all); try again later" });
    // Ordinary requests are not streams: still answered.
    expect((await fetch(`${url}/v1/services`, { headers: auth(TOKENS[8]) })).status).toBe(200);

    // 64 streams, one follower: at most one more fd on events.jsonl than before they opened.
    expect(fdsOn(watch.pid, eventsFile)).toBe(before + 1);

    // Meanwhile the watch still heals a SIGKILLed service, and every stream hears of it.
    const old = (await unitStatus(root, "web")).pid!;
    killGroup(old);
    await waitFor(() => !isAlive(old), "the killed service to be gone");
    await waitFor(async () => {
      const s = await unitStatus(root, "web");
      return s.state === "running" && s.pid !== old ? s : null;
    }, "the watch to restart web", 15_000);
    expect(received).toHaveLength(64);
    const heard = (chunks: string[]) => chunks.join("").includes('"service":"web","from":"running","to":"restarting"');
    await waitFor(() => received.every(heard) || null, "every stream to carry the crash");

    // Closing streams frees their slots.
    ac.abort();
    await waitFor(async () => (await openStream(url, TOKENS[8]!, new AbortController())).status === 200 || null, "a slot to free up");
  } finally {
    ac.abort();
    expect(await watch.stop()).toBe(130);
  }
});

test("streams joining while events are appended each get every event once, in order, from one shared follower", async () => {
  const { sharedEvents, openFollowers } = await import("../../src/observe/event-hub.ts");
  const { appendFileSync } = await import("node:fs");
  const p = tempProject();
  const paths = { eventsFile: join(p.root, "events.jsonl") } as import("../../src/paths.ts").Paths;
  const line = (i: number) => `${JSON.stringify({ ts: new Date(0).toISOString(), service: "web", from: "stopped", to: "starting", reason: `n${i}`, pid: i })}\n`;
  for (let i = 0; i < 5; i++) appendFileSync(paths.eventsFile, line(i));
  const ac = new AbortController();
  const seen: number[][] = [];
  const runs: Promise<void>[] = [];
  const join_ = () => {
    const got: number[] = [];
    seen.push(got);
    runs.push((async () => {
      for await (const e of sharedEvents(paths, { last: 3, signal: ac.signal, pollMs: 5 })) got.push(e.pid!);
    })());
  };
  // 20 streams join one by one while 200 events are written in bursts.
  for (let i = 5; i < 205; i++) {
    appendFileSync(paths.eventsFile, line(i));
    if (i % 10 === 0) join_();
    if (i % 7 === 0) await Bun.sleep(1);
  }
  await waitFor(() => seen.every((got) => got.at(-1) === 204) || null, "every stream to reach the last event");
  expect(openFollowers()).toBe(1);
  for (const got of seen) {
    // Its three before joining, then each later one exactly once.
    const first = got[0]!;
    expect(got).toEqual(Array.from({ length: 205 - first }, (_, k) => first + k));
  }
  ac.abort();
  await Promise.all(runs);
  expect(openFollowers()).toBe(0);
});

test("requests in flight: 16 per token, then 503 with Retry-After until one is answered", async () => {
  const { startApi } = await import("../../src/observe/api/server.ts");
  const { openContext } = await import("../../src/engine/context.ts");
  const { REQUEST_LIMITS } = await import("../../src/observe/api/limits.ts");
  expect(REQUEST_LIMITS).toEqual({ perToken: 16, total: 128 });
  const p = tempProject({ "services/web.yml": JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port: freePort() }) });
  let open = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  // Operations wait at the gate: the POSTs stay in flight.
  const serialize = async <T>(op: () => Promise<T>): Promise<T> => (await gate, op());
  const api = await startApi({ ctx: await openContext({ root: p.root }), listen: "127.0.0.1:0", settings: { tokens: [{ token: TOKENS[0]!, role: "operate" }, { token: TOKENS[1]!, role: "operate" }], allowInsecure: false, secretEnv: [] }, serialize });
  try {
    const post = (t = TOKENS[0]!) => fetch(`${api.url}/v1/services/web/stop`, { method: "POST", headers: auth(t) });
    const held = Array.from({ length: 16 }, () => post());
    await Bun.sleep(200);
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.json()).toEqual({ error: "too many requests in flight (for this token); try again later" });
    expect((await fetch(`${api.url}/v1/services`, { headers: auth(TOKENS[1]) })).status).toBe(200);
    open();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual(Array(16).fill(200));
    expect((await post()).status).toBe(200);
  } finally {
    await api.stop();
  }
});

test("an API key file that is a directory or a FIFO is a one-line usage error naming the setting, at once", async () => {
  const cases: [string, (root: string) => void, string][] = [
    ["tls: { cert: certs, key: certs }", (root) => Bun.spawnSync(["mkdir", join(root, "certs")]), "✘ api.tls.cert: ROOT/certs is a directory\n  hint: point api.tls.cert at a file\n"],
    ["tokens: [{ token_file: token.fifo }]", (root) => Bun.spawnSync(["mkfifo", join(root, "token.fifo")]), "✘ api.tokens.0.token_file: ROOT/token.fifo is not a regular file\n  hint: point api.tokens.0.token_file at a file\n"],
  ];
  for (const [setting, make, message] of cases) {
    const p = tempProject();
    p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"] }));
    const tokens = setting.startsWith("tokens") ? "" : "\n  tokens: [{ token: 0123456789abcdef0123 }]";
    p.write("sv.yml", `api:\n  ${setting}${tokens}\n`);
    make(p.root);
    const r = await sv(p.root, ["watch", "--listen", "127.0.0.1:0"], { timeoutMs: 5000 });
    expect([r.code, r.stderr]).toEqual([2, message.replace("ROOT", p.root)]);
  }
});
