// The HTTP API of `sv watch --listen`: status, start/stop/restart, logs, events (SSE) and /metrics, behind bearer tokens.
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "bun";
import type { ApiRole, ApiSettings, Project } from "../config/schema.ts";
import { type Ctx, silentReporter } from "../engine/context.ts";
import type { Outcome } from "../engine/orchestrate.ts";
import { unitStatuses } from "../engine/report.ts";
import { restartServices } from "../engine/restart.ts";
import { startServices } from "../engine/start.ts";
import { stopServices } from "../engine/stop.ts";
import { serviceOf, unitNames } from "../engine/units.ts";
import { EXIT, SvError, UsageError } from "../errors.ts";
import { logFile } from "../paths.ts";
import { tailLog } from "../runtime/logs/tail.ts";
import { readState, type StoreState } from "../store/store.ts";
import { followEvents } from "./events.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";

// Required at first use: a static import of node:crypto would be hoisted into every sv start (~4 ms).
const timingSafeEqual = (a: Buffer, b: Buffer): boolean => (require("node:crypto") as typeof import("node:crypto")).timingSafeEqual(a, b);

export const DEFAULT_LOG_LINES = 100;
export const MAX_LOG_LINES = 10_000;
/** An SSE comment this often keeps proxies and clients from timing out an idle stream. */
export const SSE_HEARTBEAT_MS = 15_000;

export interface ApiOptions {
  /** `HOST:PORT`, `[V6]:PORT`, or `PORT` (loopback); port 0 picks a free one. Default: sv.yml `api.listen`. */
  listen?: string;
  /** The project to serve; a function is asked on every request, so a reloaded config is picked up. */
  ctx: Ctx | (() => Ctx);
  /** Tokens, TLS, allow_insecure; default: the project's `api:` settings. */
  settings?: ApiSettings;
  heartbeatMs?: number;
  /** Called once per finished request (for a log line); SSE streams report when they are opened. */
  onRequest?: (info: { method: string; path: string; status: number; ms: number }) => void;
  /** Called with warnings (plaintext on a non-loopback address) and internal errors. */
  onWarning?: (message: string) => void;
  /**
   * Runs each start/stop/restart. Default: one at a time within this API. Pass the watch loop's own
   * mutex so API operations and reconcile passes of one process never interleave.
   */
  serialize?: <T>(op: () => Promise<T>) => Promise<T>;
}

export interface ApiServer {
  /** `http(s)://host:port`, with the port actually bound. */
  url: string;
  /** Close the listener, every open event stream, and wait for running operations to finish. */
  stop(): Promise<void>;
}

interface Token {
  digest: Buffer;
  role: ApiRole;
}

/** Start the API. Throws an SvError (exit 2) for a configuration it refuses: no tokens, plaintext off loopback. */
export async function startApi(opts: ApiOptions): Promise<ApiServer> {
  const getCtx = typeof opts.ctx === "function" ? opts.ctx : () => opts.ctx as Ctx;
  const settings = opts.settings ?? getCtx().project.api;
  const listen = opts.listen ?? settings.listen;
  if (!listen) throw new UsageError("no address to listen on", "pass --listen 127.0.0.1:9090 or set api.listen in sv.yml");
  const { hostname, port } = parseListen(listen);
  const tokens = loadTokens(settings);
  const tls = settings.tls && loadTls(settings.tls);
  if (!isLoopback(hostname) && !tls) {
    if (!settings.allowInsecure) {
      throw new SvError(`refusing to serve the API on ${listen} without TLS: tokens would cross the network in clear text`, {
        exitCode: EXIT.usage,
        hint: "set api.tls.cert and api.tls.key in sv.yml, listen on 127.0.0.1, or set api.allow_insecure: true (behind a TLS proxy)",
      });
    }
    opts.onWarning?.(`the API on ${listen} is plaintext (api.allow_insecure): bearer tokens cross the network unencrypted`);
  }

  const streams = new Set<AbortController>();
  const ops = opts.serialize ?? serializer();
  const inflight = new Set<Promise<unknown>>();
  const heartbeatMs = opts.heartbeatMs ?? SSE_HEARTBEAT_MS;
  let server: Server<unknown>;
  try {
    server = Bun.serve({
      hostname,
      port,
      tls,
      async fetch(req, srv) {
        const t0 = performance.now();
        const path = new URL(req.url).pathname;
        let res: Response;
        try {
          res = await handle(req, srv);
        } catch (e) {
          res = errorResponse(e, opts.onWarning);
        }
        opts.onRequest?.({ method: req.method, path, status: res.status, ms: performance.now() - t0 });
        return res;
      },
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "the address is in use" : (e as Error).message;
    throw new SvError(`cannot serve the API on ${listen}: ${why}`, { exitCode: EXIT.usage, cause: e });
  }

  async function handle(req: Request, srv: Server<unknown>): Promise<Response> {
    const role = authorize(tokens, req.headers.get("authorization"));
    if (role === "missing") return json(401, { error: "missing bearer token" }, { "WWW-Authenticate": 'Bearer realm="sv"' });
    if (role === "invalid") return json(401, { error: "invalid bearer token" }, { "WWW-Authenticate": 'Bearer realm="sv", error="invalid_token"' });

    const url = new URL(req.url);
    const route = matchRoute(url.pathname);
    if (!route) return json(404, { error: `no such endpoint: ${url.pathname}` });
    if (req.method !== route.method) return json(405, { error: `${req.method} is not allowed on ${url.pathname}` }, { Allow: route.method });
    if (route.method === "POST" && role !== "operate") return json(403, { error: "this token may only read (role: read); start, stop and restart need role: operate" });

    const ctx = getCtx();
    const project = ctx.project;
    switch (route.kind) {
      case "metrics":
        return new Response(renderMetrics(project, readState(ctx.paths)), { headers: { "Content-Type": METRICS_CONTENT_TYPE } });
      case "services":
        return json(200, { services: unitStatuses(project, readState(ctx.paths)) });
      case "service": {
        const state = readState(ctx.paths);
        const units = resolveUnits(project, state, route.name);
        if (!units) return unknownService(route.name);
        const service = project.services.has(route.name) ? route.name : serviceOf(route.name);
        return json(200, { services: unitStatuses(project, state, [service]).filter((r) => units.includes(r.name)) });
      }
      case "logs": {
        const units = resolveUnits(project, readState(ctx.paths), route.name);
        if (!units) return unknownService(route.name);
        const lines = parseCount(url.searchParams.get("lines"), DEFAULT_LOG_LINES, MAX_LOG_LINES);
        if (lines === null) return json(400, { error: `lines must be a whole number from 0 to ${MAX_LOG_LINES}` });
        return json(200, { units: units.map((u) => ({ name: u, lines: tailLog(logFile(ctx.paths, u), lines) })) });
      }
      case "action": {
        if (!project.services.has(route.name)) return unknownService(route.name);
        srv.timeout(req, 0); // a start may wait up to default_timeout for readiness
        const run = { start: startServices, stop: stopServices, restart: restartServices }[route.action];
        const op = ops(() => run({ ...ctx, reporter: silentReporter }, [route.name]));
        inflight.add(op);
        const outcomes = await op.finally(() => inflight.delete(op));
        return outcomeResponse(route.action, outcomes);
      }
      case "events": {
        const services = url.searchParams.getAll("service");
        const state = readState(ctx.paths);
        for (const name of services) if (!resolveUnits(project, state, name)) return unknownService(name);
        const last = parseCount(url.searchParams.get("last"), 0, MAX_LOG_LINES);
        if (last === null) return json(400, { error: `last must be a whole number from 0 to ${MAX_LOG_LINES}` });
        srv.timeout(req, 0);
        return eventStream(ctx, { services, last, heartbeatMs, signal: req.signal, streams });
      }
    }
  }

  const scheme = tls ? "https" : "http";
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `${scheme}://${host}:${server.port}`,
    async stop() {
      for (const s of streams) s.abort();
      await server.stop(true);
      await Promise.allSettled([...inflight]);
    },
  };
}

type Route =
  | { kind: "metrics" | "services" | "events"; method: "GET" }
  | { kind: "service" | "logs"; method: "GET"; name: string }
  | { kind: "action"; method: "POST"; name: string; action: "start" | "stop" | "restart" };

function matchRoute(path: string): Route | null {
  if (path === "/metrics") return { kind: "metrics", method: "GET" };
  if (path === "/v1/services" || path === "/v1/services/") return { kind: "services", method: "GET" };
  if (path === "/v1/events") return { kind: "events", method: "GET" };
  const m = /^\/v1\/services\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return null;
  const name = decodeURIComponent(m[1]!);
  const sub = m[2];
  if (sub === undefined) return { kind: "service", method: "GET", name };
  if (sub === "logs") return { kind: "logs", method: "GET", name };
  if (sub === "start" || sub === "stop" || sub === "restart") return { kind: "action", method: "POST", name, action: sub };
  return null;
}

/** The units a name stands for: a service's units, or one unit (`api.0`, `job.7`); null when unknown. */
function resolveUnits(project: Project, state: StoreState, name: string): string[] | null {
  const svc = project.services.get(name);
  if (svc) return unitNames(svc, state);
  const owner = project.services.get(serviceOf(name));
  return owner && unitNames(owner, state).includes(name) ? [name] : null;
}

/** The role of the presented token, compared in constant time against every configured token. */
function authorize(tokens: Token[], header: string | null): ApiRole | "missing" | "invalid" {
  const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  if (!m) return "missing";
  const digest = sha256(m[1]!);
  let role: ApiRole | undefined;
  for (const t of tokens) if (timingSafeEqual(digest, t.digest)) role = t.role;
  return role ?? "invalid";
}

function sha256(text: string): Buffer {
  return Buffer.from(new Bun.CryptoHasher("sha256").update(text).digest());
}

/** The configured tokens, token_file ones read now; at least one is required. */
function loadTokens(settings: ApiSettings): Token[] {
  const hint = 'add to sv.yml: api: { tokens: [{ token: "${SV_API_TOKEN}", role: operate }] }';
  if (settings.tokens.length === 0) throw new SvError("the API needs at least one token", { exitCode: EXIT.usage, hint });
  const seen = new Set<string>();
  return settings.tokens.map((t, i) => {
    let token = t.token;
    if (t.tokenFile !== undefined) {
      if (!existsSync(t.tokenFile)) throw new SvError(`api.tokens.${i}.token_file: ${t.tokenFile} does not exist`, { exitCode: EXIT.usage });
      token = readFileSync(t.tokenFile, "utf8").trim();
      if (token.length < 16 || /\s/.test(token)) {
        throw new SvError(`api.tokens.${i}.token_file: ${t.tokenFile} must hold one token of at least 16 characters`, { exitCode: EXIT.usage, hint: "make one with `openssl rand -hex 32`" });
      }
    }
    if (/\s/.test(token!)) throw new SvError(`api.tokens.${i}.token must not contain white space`, { exitCode: EXIT.usage });
    if (seen.has(token!)) throw new SvError(`api.tokens.${i}: the same token is listed twice`, { exitCode: EXIT.usage });
    seen.add(token!);
    return { digest: sha256(token!), role: t.role };
  });
}

function loadTls(tls: NonNullable<ApiSettings["tls"]>): { cert: string; key: string } {
  for (const [what, file] of [["cert", tls.certFile], ["key", tls.keyFile]] as const) {
    if (!existsSync(file)) throw new SvError(`api.tls.${what}: ${file} does not exist`, { exitCode: EXIT.usage });
  }
  return { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") };
}

/** `HOST:PORT`, `[V6]:PORT`, `:PORT` (every interface) or `PORT` (127.0.0.1). */
export function parseListen(listen: string): { hostname: string; port: number } {
  const bare = /^(\d{1,5})$/.exec(listen);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
  const port = Number(bare?.[1] ?? m?.[3]);
  if ((!bare && !m) || port > 65535) throw new UsageError(`cannot listen on "${listen}"`, "use HOST:PORT, [IPV6]:PORT or PORT, e.g. 127.0.0.1:9090");
  const hostname = bare ? "127.0.0.1" : (m![1] ?? (m![2] || "0.0.0.0"));
  return { hostname, port };
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Run async operations one at a time, in arrival order: two engine operations of one process must not interleave. */
function serializer(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

function outcomeResponse(action: string, outcomes: Map<string, Outcome>): Response {
  const services = [...outcomes].map(([name, o]) => ({ name, ok: o.ok, skipped: o.skipped ?? false, message: o.message }));
  const failed = services.filter((s) => !s.ok).length;
  if (failed === 0) return json(200, { ok: true, services });
  return json(500, { ok: false, error: `${action}: ${failed} of ${services.length} service${services.length === 1 ? "" : "s"} failed`, services });
}

/** Server-sent events: each event as `data: {json}`, and a comment every heartbeat. */
function eventStream(
  ctx: Ctx,
  opts: { services: string[]; last: number; heartbeatMs: number; signal: AbortSignal; streams: Set<AbortController> },
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
      for await (const e of followEvents(ctx.paths, { services: opts.services, last: opts.last, signal: ac.signal })) send(`data: ${JSON.stringify(e)}\n\n`);
    } catch {
      // The client went away mid-write; nothing to tell anyone.
    } finally {
      clearInterval(heartbeat);
      opts.streams.delete(ac);
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

/** A query count: absent -> `fallback`; a whole number 0..max; anything else -> null. */
function parseCount(value: string | null, fallback: number, max: number): number | null {
  if (value === null) return fallback;
  if (!/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

function unknownService(name: string): Response {
  return json(404, { error: `unknown service "${name}"` });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body)}\n`, { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** Errors from the engine: usage errors are the caller's (400), a held lock is 503, the rest 500. */
function errorResponse(e: unknown, report?: (message: string) => void): Response {
  if (e instanceof SvError) {
    const status = e.exitCode === EXIT.usage ? 400 : e.exitCode === EXIT.locked ? 503 : 500;
    return json(status, { error: e.message, ...(e.hint ? { hint: e.hint } : {}) });
  }
  report?.(`internal error in the API (this is a bug): ${(e as Error)?.stack ?? String(e)}`);
  return json(500, { error: "internal error" });
}
