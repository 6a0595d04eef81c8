// The HTTP API for real: served in-process on 127.0.0.1:0 against a temp project, driven with fetch.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiSettings } from "../../src/config/schema.ts";
import { openContext } from "../../src/engine/context.ts";
import { type ApiServer, isLoopback, parseListen, startApi } from "../../src/observe/api/server.ts";
import { ConfigError, SvError } from "../../src/errors.ts";
import { fixtureCommand, freePort, isAlive, isListening, tempProject, waitFor } from "../helpers/project.ts";
import { parseExposition, sampleValue } from "./prom.ts";

const OPERATE = "operate-token-0123456789abcdef";
const READ = "read-token-0123456789abcdefghij";
const SETTINGS: ApiSettings = {
  tokens: [
    { token: OPERATE, role: "operate" },
    { token: READ, role: "read" },
  ],
  allowInsecure: false,
  secretEnv: [],
};

/** A project with one TCP service `web` (port `port`) and a two-instance `pool` that never starts. */
function project(port = freePort()) {
  const p = tempProject({
    "services/web.yml": `command: ${fixtureCommand("tcp-server.ts")}\nport: ${port}\n`,
    "services/pool.yml": `command: ${fixtureCommand("tcp-server.ts", "0")}\ninstances: 2\ntype: on-demand\n`,
  });
  return { ...p, port };
}

async function withApi(root: string, fn: (api: ApiServer) => Promise<void>, settings: ApiSettings = SETTINGS, listen = "127.0.0.1:0"): Promise<void> {
  const ctx = await openContext({ root });
  const api = await startApi({ ctx, listen, settings, heartbeatMs: 50 });
  try {
    await fn(api);
  } finally {
    await api.stop();
  }
}

/** The JSON body of a response (typed loosely: these are assertions on the wire format). */
const body = (res: Response): Promise<any> => res.json();

function call(api: ApiServer, path: string, opts: { token?: string | null; method?: string; tls?: { ca: string } } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? READ : opts.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  return fetch(`${api.url}${path}`, { method: opts.method ?? "GET", headers, tls: opts.tls });
}

/** Read server-sent events from a response, collecting parsed `data:` payloads and comment lines. */
function readSse(res: Response) {
  const events: Record<string, unknown>[] = [];
  const comments: string[] = [];
  const reader = res.body!.getReader();
  const done = (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buf.indexOf("\n\n")) !== -1) {
        for (const line of buf.slice(0, end).split("\n")) {
          if (line.startsWith("data: ")) events.push(JSON.parse(line.slice(6)));
          else if (line.startsWith(":")) comments.push(line);
        }
        buf = buf.slice(end + 2);
      }
    }
  })().catch(() => undefined);
  return { events, comments, close: () => reader.cancel().catch(() => undefined).then(() => done) };
}

describe("the API", () => {
  test("auth: 401 without or with an unknown token, 403 for read tokens on POST; tokens never leak", async () => {
    const p = project();
    await withApi(p.root, async (api) => {
      expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      for (const path of ["/v1/services", "/metrics", "/v1/nope"]) {
        const none = await call(api, path, { token: null });
        expect(none.status).toBe(401);
        expect(none.headers.get("www-authenticate")).toBe('Bearer realm="sv"');
        expect(await body(none)).toEqual({ error: "missing bearer token" });
      }
      const wrong = await call(api, "/v1/services", { token: `${OPERATE}x` });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toBe('Bearer realm="sv", error="invalid_token"');
      expect(await body(wrong)).toEqual({ error: "invalid bearer token" });
      const basic = await fetch(`${api.url}/v1/services`, { headers: { Authorization: `Basic ${btoa(`x:${READ}`)}` } });
      expect(basic.status).toBe(401);

      const forbidden = await call(api, "/v1/services/web/start", { method: "POST", token: READ });
      expect(forbidden.status).toBe(403);
      expect((await body(forbidden)).error).toContain("role: operate");
      expect(await isListening(p.port)).toBe(false);

      expect((await call(api, "/v1/services", { token: READ })).status).toBe(200);
      expect((await call(api, "/v1/services", { token: OPERATE })).status).toBe(200);
      const lower = await fetch(`${api.url}/v1/services`, { headers: { authorization: `bearer ${READ}` } });
      expect(lower.status).toBe(200);
    });
  });

  test("routing: 404 for unknown services and endpoints, 405 with Allow for the wrong method", async () => {
    const p = project();
    await withApi(p.root, async (api) => {
      const unknown = await call(api, "/v1/services/nope");
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get("content-type")).toBe("application/json");
      expect(await body(unknown)).toEqual({ error: 'unknown service "nope"' });
      expect((await call(api, "/v1/services/nope/start", { method: "POST", token: OPERATE })).status).toBe(404);
      expect((await call(api, "/v1/services/nope/logs")).status).toBe(404);
      expect((await call(api, "/v1/services/web/frobnicate", { method: "POST", token: OPERATE })).status).toBe(404);
      expect((await call(api, "/v2/services")).status).toBe(404);

      const getStart = await call(api, "/v1/services/web/start");
      expect(getStart.status).toBe(405);
      expect(getStart.headers.get("allow")).toBe("POST");
      const postList = await call(api, "/v1/services", { method: "POST", token: OPERATE });
      expect(postList.status).toBe(405);
      expect(postList.headers.get("allow")).toBe("GET");
      expect((await call(api, "/metrics", { method: "DELETE", token: OPERATE })).status).toBe(405);

      expect((await call(api, "/v1/services/web/logs?lines=x")).status).toBe(400);
      expect((await call(api, "/v1/services/web/logs?lines=10001")).status).toBe(400);
      expect((await call(api, "/v1/events?last=-1")).status).toBe(400);
      expect((await call(api, "/v1/events?service=nope")).status).toBe(404);
    });
  });

  test("start, status, logs, SSE, metrics, stop: the whole tour", async () => {
    const p = project();
    await withApi(p.root, async (api) => {
      const before = await call(api, "/v1/services");
      expect(before.headers.get("content-type")).toBe("application/json");
      const list = (await body(before)).services;
      expect(list.map((s: { name: string; state: string }) => [s.name, s.state])).toEqual([
        ["pool.0", "stopped"],
        ["pool.1", "stopped"],
        ["web", "stopped"],
      ]);

      // Subscribe first, then make something happen.
      const stream = await call(api, "/v1/events");
      expect(stream.status).toBe(200);
      expect(stream.headers.get("content-type")).toBe("text/event-stream");
      const sse = readSse(stream);
      await waitFor(() => sse.comments.length > 0, "the stream's opening comment");

      const start = await call(api, "/v1/services/web/start", { method: "POST", token: OPERATE });
      const outcome = await body(start);
      expect(start.status).toBe(200);
      expect(outcome.ok).toBe(true);
      expect(outcome.services).toHaveLength(1);
      expect(outcome.services[0]).toMatchObject({ name: "web", ok: true, skipped: false });
      expect(outcome.services[0].message).toMatch(/^running \(pid \d+\)/);
      expect(await isListening(p.port)).toBe(true);

      await waitFor(() => sse.events.some((e) => e.service === "web" && e.to === "running"), "SSE event web -> running");
      expect(sse.events.map((e) => [e.service, e.from, e.to])).toEqual([
        ["web", "stopped", "starting"],
        ["web", "starting", "running"],
      ]);
      expect(sse.events[1]).toMatchObject({ reason: "health check passed" });
      await waitFor(() => sse.comments.includes(": keepalive"), "a heartbeat comment");
      await sse.close();

      const one = await call(api, "/v1/services/web");
      expect(one.status).toBe(200);
      const [web] = (await body(one)).services;
      expect(web).toMatchObject({ name: "web", state: "running", health: "healthy", wanted: "up", port: p.port });
      // The service's own process (its group is led by sv's exit relay), the one the start reported.
      expect(web.pid).toBe(Number(/pid (\d+)/.exec(outcome.services[0].message)![1]));
      expect(isAlive(web.pid)).toBe(true);
      const unit = await body(await call(api, "/v1/services/pool.1"));
      expect(unit.services.map((s: { name: string }) => s.name)).toEqual(["pool.1"]);
      const pool = await body(await call(api, "/v1/services/pool"));
      expect(pool.services.map((s: { name: string }) => s.name)).toEqual(["pool.0", "pool.1"]);

      const logs = await call(api, "/v1/services/web/logs?lines=5");
      expect(logs.status).toBe(200);
      const tail = await body(logs);
      expect(tail.units).toHaveLength(1);
      expect(tail.units[0].name).toBe("web");
      expect(tail.units[0].lines).toContain(`ready on ${p.port}`);
      expect((await body(await call(api, "/v1/services/web/logs?lines=0"))).units[0].lines).toEqual([]);
      expect((await body(await call(api, "/v1/services/pool/logs"))).units).toEqual([
        { name: "pool.0", lines: [] },
        { name: "pool.1", lines: [] },
      ]);

      const metrics = await call(api, "/metrics");
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const families = parseExposition(await metrics.text());
      expect(sampleValue(families, "sv_service_up", { service: "web" })).toBe(1);
      expect(sampleValue(families, "sv_services", { state: "running" })).toBe(1);
      expect(sampleValue(families, "sv_services", { state: "stopped" })).toBe(2);

      // Replay: a new subscriber asks for the last two events of web.
      const replay = readSse(await call(api, "/v1/events?last=2&service=web"));
      await waitFor(() => replay.events.length === 2, "two replayed events");
      expect(replay.events.map((e) => e.to)).toEqual(["starting", "running"]);
      await replay.close();

      const stop = await call(api, "/v1/services/web/stop", { method: "POST", token: OPERATE });
      expect(stop.status).toBe(200);
      expect((await body(stop)).services).toEqual([{ name: "web", ok: true, skipped: false, message: "stopped" }]);
      expect(isAlive(web.pid)).toBe(false);
      expect((await body(await call(api, "/v1/services/web"))).services[0]).toMatchObject({ state: "stopped", wanted: "down", pid: null });
    });
  });

  test("restart answers with the outcome of the start; a failed start is a 500 with the reason", async () => {
    const p = project();
    p.write("services/broken.yml", "command: exit 3\nhealth_check: { type: process }\nrestart: 'no'\n");
    await withApi(p.root, async (api) => {
      const first = await body(await call(api, "/v1/services/web/start", { method: "POST", token: OPERATE }));
      const pid1 = Number(/pid (\d+)/.exec(first.services[0].message)![1]);
      const restart = await call(api, "/v1/services/web/restart", { method: "POST", token: OPERATE });
      expect(restart.status).toBe(200);
      const restarted = await body(restart);
      const pid2 = Number(/pid (\d+)/.exec(restarted.services[0].message)![1]);
      expect(pid2).not.toBe(pid1);
      expect(isAlive(pid1)).toBe(false);

      const broken = await call(api, "/v1/services/broken/start", { method: "POST", token: OPERATE });
      expect(broken.status).toBe(500);
      const failure = await body(broken);
      expect(failure.ok).toBe(false);
      expect(failure.error).toBe("start: 1 of 1 service failed");
      expect(failure.services[0]).toMatchObject({ name: "broken", ok: false });
      expect(failure.services[0].message).toBe("broken exited with code 3 while starting");
      // restart: no, so sv gives up at once: error, nothing scheduled.
      const [after] = (await body(await call(api, "/v1/services/broken"))).services;
      expect(after).toMatchObject({ state: "error", pid: null, exit_code: 3, last_error: "broken exited with code 3 while starting" });
      expect(after.next_restart_at).toBeUndefined();
    });
  });

  test("concurrent POSTs for one service are run one after the other: one process, not two", async () => {
    const p = project();
    await withApi(p.root, async (api) => {
      const [a, b] = await Promise.all([
        call(api, "/v1/services/web/start", { method: "POST", token: OPERATE }),
        call(api, "/v1/services/web/start", { method: "POST", token: OPERATE }),
      ]);
      const messages = [(await body(a)).services[0].message, (await body(b)).services[0].message].sort();
      expect(messages[0]).toBe("already running");
      expect(messages[1]).toMatch(/^running \(pid \d+\)/);
    });
  });

  test("a caller's serialize wraps every operation (the watch loop shares its mutex)", async () => {
    const p = project();
    const ctx = await openContext({ root: p.root });
    const ran: string[] = [];
    const serialize = async <T>(op: () => Promise<T>): Promise<T> => {
      ran.push("op");
      return op();
    };
    const api = await startApi({ ctx, listen: "127.0.0.1:0", settings: SETTINGS, serialize });
    try {
      expect((await call(api, "/v1/services/web/start", { method: "POST", token: OPERATE })).status).toBe(200);
      expect((await call(api, "/v1/services/web/stop", { method: "POST", token: OPERATE })).status).toBe(200);
      expect((await call(api, "/v1/services")).status).toBe(200);
      expect(ran).toEqual(["op", "op"]);
    } finally {
      await api.stop();
    }
  });

  test("stop() closes open event streams", async () => {
    const p = project();
    const ctx = await openContext({ root: p.root });
    const api = await startApi({ ctx, listen: "127.0.0.1:0", settings: SETTINGS });
    const sse = readSse(await call(api, "/v1/events"));
    await waitFor(() => sse.comments.length > 0, "the stream to open");
    await api.stop();
    await sse.close();
    await expect(fetch(`${api.url}/v1/services`)).rejects.toThrow();
  });
});

describe("startApi refuses unsafe or broken configurations", () => {
  const expectError = async (promise: Promise<unknown>, message: string | RegExp) => {
    const e = await promise.then(
      () => undefined,
      (err) => err,
    );
    expect(e).toBeInstanceOf(SvError);
    expect((e as SvError).exitCode).toBe(2);
    expect((e as SvError).message).toMatch(message);
  };

  test("no tokens, a duplicate token, a bad token file, no address", async () => {
    const p = project();
    const ctx = await openContext({ root: p.root });
    await expectError(startApi({ ctx, listen: "127.0.0.1:0", settings: { tokens: [], allowInsecure: false, secretEnv: [] } }), "the API needs at least one token");
    await expectError(
      startApi({ ctx, listen: "127.0.0.1:0", settings: { tokens: [{ token: OPERATE, role: "operate" }, { token: OPERATE, role: "read" }], allowInsecure: false, secretEnv: [] } }),
      "api.tokens.1: the same token is listed twice",
    );
    await expectError(
      startApi({ ctx, listen: "127.0.0.1:0", settings: { tokens: [{ tokenFile: join(p.root, "missing"), role: "read" }], allowInsecure: false, secretEnv: [] } }),
      /token_file: .*missing does not exist/,
    );
    p.write("short.token", "abc\n");
    await expectError(
      startApi({ ctx, listen: "127.0.0.1:0", settings: { tokens: [{ tokenFile: join(p.root, "short.token"), role: "read" }], allowInsecure: false, secretEnv: [] } }),
      /must hold one token of at least 16 characters/,
    );
    await expectError(startApi({ ctx, settings: SETTINGS }), "no address to listen on");
    await expectError(startApi({ ctx, listen: "localhost:99999", settings: SETTINGS }), 'cannot listen on "localhost:99999"');
  });

  test("a non-loopback address needs TLS, or allow_insecure (with a warning)", async () => {
    const p = project();
    const ctx = await openContext({ root: p.root });
    await expectError(startApi({ ctx, listen: "0.0.0.0:0", settings: SETTINGS }), /^refusing to serve the API on 0\.0\.0\.0:0 without TLS/);
    const warnings: string[] = [];
    const api = await startApi({ ctx, listen: "0.0.0.0:0", settings: { ...SETTINGS, allowInsecure: true }, onWarning: (w) => warnings.push(w) });
    try {
      expect(warnings).toEqual(["the API on 0.0.0.0:0 is plaintext (api.allow_insecure): bearer tokens cross the network unencrypted"]);
      const port = new URL(api.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/v1/services`, { headers: { Authorization: `Bearer ${READ}` } })).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  test("a port in use is one clear error", async () => {
    const p = project();
    const ctx = await openContext({ root: p.root });
    const api = await startApi({ ctx, listen: "127.0.0.1:0", settings: SETTINGS });
    try {
      const port = new URL(api.url).port;
      await expectError(startApi({ ctx, listen: `127.0.0.1:${port}`, settings: SETTINGS }), `cannot serve the API on 127.0.0.1:${port}`);
    } finally {
      await api.stop();
    }
  });

  test("token_file tokens work, surrounding white space trimmed", async () => {
    const p = project();
    p.write("secrets/api.token", `  ${OPERATE}\n`);
    await withApi(p.root, async (api) => {
      expect((await call(api, "/v1/services", { token: OPERATE })).status).toBe(200);
    }, { tokens: [{ tokenFile: join(p.root, "secrets/api.token"), role: "operate" }], allowInsecure: false, secretEnv: [] });
  });
});

describe("the api: section of sv.yml", () => {
  test("tokens from the environment and from a file; roles; served with no other settings", async () => {
    const p = project();
    p.write(
      "sv.yml",
      'api:\n  listen: "127.0.0.1:0"\n  tokens:\n    - { token: "${SV_TEST_API_TOKEN}", role: operate }\n    - token_file: secrets/read.token\n',
    );
    p.write("secrets/read.token", `${READ}\n`);
    process.env.SV_TEST_API_TOKEN = OPERATE;
    try {
      const ctx = await openContext({ root: p.root });
      expect(ctx.project.api).toEqual({
        listen: "127.0.0.1:0",
        tokens: [
          { token: OPERATE, tokenFile: undefined, role: "operate" },
          { token: undefined, tokenFile: join(p.root, "secrets/read.token"), role: "read" },
        ],
        tls: undefined,
        allowInsecure: false,
        secretEnv: ["SV_TEST_API_TOKEN"],
      });
      const api = await startApi({ ctx });
      try {
        expect((await call(api, "/v1/services", { token: READ })).status).toBe(200);
        expect((await call(api, "/v1/services/web/stop", { method: "POST", token: READ })).status).toBe(403);
        expect((await call(api, "/v1/services/web/stop", { method: "POST", token: OPERATE })).status).toBe(200);
      } finally {
        await api.stop();
      }
    } finally {
      delete process.env.SV_TEST_API_TOKEN;
    }
  });

  test("mistakes are config errors, each with its place", async () => {
    const p = project();
    p.write(
      "sv.yml",
      ["api:", "  lisen: 9090", "  tokens:", "    - token: short", "    - { token: 0123456789abcdef0123, token_file: x }", "    - { token: 0123456789abcdef0123, role: admin }", ""].join("\n"),
    );
    const e = await openContext({ root: p.root }).then(
      () => undefined,
      (err) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    const problems = (e as ConfigError).problems.join("\n");
    expect(problems).toContain('sv.yml:2:3: api.lisen: unknown key "lisen" (did you mean "listen"?)');
    expect(problems).toContain("sv.yml:4:14: api.tokens.0.token: must be at least 16 characters");
    expect(problems).toContain("sv.yml:5:7: api.tokens.1: each token needs exactly one of token: or token_file:");
    expect(problems).toContain('sv.yml:6:44: api.tokens.2.role: must be one of read, operate (got "admin")');
  });
});

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

test.skipIf(!hasOpenssl)("TLS: serves https with the configured cert and key, even on a non-loopback address", async () => {
  const p = project();
  const cert = join(p.root, "tls/cert.pem");
  const key = join(p.root, "tls/key.pem");
  p.write("tls/.keep", "");
  const gen = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    { stdio: "pipe" },
  );
  expect(gen.status).toBe(0);
  expect(existsSync(cert)).toBe(true);
  const settings: ApiSettings = { ...SETTINGS, tls: { certFile: cert, keyFile: key } };
  await withApi(p.root, async (api) => {
    expect(api.url).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    const url = api.url.replace("0.0.0.0", "127.0.0.1");
    const res = await fetch(`${url}/v1/services`, { headers: { Authorization: `Bearer ${READ}` }, tls: { ca: readFileSync(cert, "utf8") } });
    expect(res.status).toBe(200);
    expect((await body(res)).services).toHaveLength(3);
    // Without trusting the self-signed cert, the client refuses.
    await expect(fetch(`${url}/v1/services`)).rejects.toThrow();
    // Plain HTTP to the TLS port gets no API answer.
    await expect(fetch(`${url.replace("https", "http")}/v1/services`, { headers: { Authorization: `Bearer ${READ}` } }).then((r) => r.status)).rejects.toThrow();
  }, settings, "0.0.0.0:0");
});

describe("listen addresses", () => {
  test.each([
    ["9090", "127.0.0.1", 9090],
    ["127.0.0.1:0", "127.0.0.1", 0],
    ["localhost:8080", "localhost", 8080],
    [":9090", "0.0.0.0", 9090],
    ["0.0.0.0:9090", "0.0.0.0", 9090],
    ["[::1]:9090", "::1", 9090],
    ["[::]:9090", "::", 9090],
  ])("%s", (listen, hostname, port) => {
    expect(parseListen(listen)).toEqual({ hostname, port });
  });
  test.each(["", "host", "host:", "1.2.3.4:65536", "::1:9090", "[::1]", "a:b:1"])("%j is refused", (listen) => {
    expect(() => parseListen(listen)).toThrow(`cannot listen on "${listen}"`);
  });
  test.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["::1", true],
    ["::ffff:127.0.0.1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.1", false],
    ["128.0.0.1", false],
  ])("%s is loopback: %p", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});
