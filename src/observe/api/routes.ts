// The API's endpoints: a request, once its token is checked, routed to status, logs, events, metrics or an operation.
import type { Server } from "bun";
import type { Project } from "../../config/schema.ts";
import { type Ctx, silentReporter } from "../../engine/context.ts";
import type { Outcome } from "../../engine/orchestrate.ts";
import { overallHealth } from "../../engine/overall.ts";
import { unitStatuses } from "../../engine/report.ts";
import { restartServices } from "../../engine/restart.ts";
import { startServices } from "../../engine/start.ts";
import { stopServices } from "../../engine/stop.ts";
import { serviceOf, unitNames } from "../../engine/units.ts";
import { EXIT, SvError } from "../../errors.ts";
import { readState, type StoreState } from "../../store/store.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics.ts";
import { authorize, type Token } from "./auth.ts";
import { type Limiter, RETRY_AFTER_S } from "./limits.ts";
import { eventStream } from "./sse.ts";

export const DEFAULT_LOG_LINES = 100;
export const MAX_LOG_LINES = 10_000;

/** What the endpoints share with the server: its tokens, the project, the operation queue, open streams. */
export interface RouteDeps {
  tokens: Token[];
  getCtx: () => Ctx;
  /** Runs each start/stop/restart (one at a time). */
  ops: <T>(op: () => Promise<T>) => Promise<T>;
  /** Operations running now; the server waits for them when it stops. */
  inflight: Set<Promise<unknown>>;
  /** Open event streams; the server aborts them when it stops. */
  streams: Set<AbortController>;
  /** Open event streams and other requests in flight, counted per token and in all (limits.ts). */
  limits: { streams: Limiter; requests: Limiter };
  heartbeatMs: number;
}

/** Answer one request: 401 without a valid token, 404/405 off the route table, 403 for an operation with a read token. */
export async function handleRequest(req: Request, srv: Server<unknown>, deps: RouteDeps): Promise<Response> {
  const token = authorize(deps.tokens, req.headers.get("authorization"));
  const url = new URL(req.url);
  if (url.pathname === "/health") return health(req, deps, token !== "missing" && token !== "invalid");
  if (token === "missing" || token === "invalid") return refuse(token);
  const kind = url.pathname === "/v1/events" ? "streams" : "requests";
  const release = deps.limits[kind].acquire(token);
  if (typeof release === "string") {
    const what = kind === "streams" ? "event streams" : "requests in flight";
    return json(503, { error: `too many ${what} (${release === "per token" ? "for this token" : "in all"}); try again later` }, { "Retry-After": String(RETRY_AFTER_S) });
  }
  let res: Response | undefined;
  try {
    return (res = await answer(req, url, srv, token.role, deps, release));
  } finally {
    // A stream holds its slot until it closes (sse.ts); anything else until it is answered.
    if (!(kind === "streams" && res?.status === 200)) release();
  }
}

/**
 * GET /health needs no token, like a load balancer's or Kubernetes' probe: 200 when healthy, 503 otherwise,
 * with only the word. A valid token also gets which units are not ready (their names say what runs here).
 */
function health(req: Request, deps: RouteDeps, authorized: boolean): Response {
  if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: `${req.method} is not allowed on /health` }, { Allow: "GET" });
  const ctx = deps.getCtx();
  const overall = overallHealth(unitStatuses(ctx, readState(ctx.paths)));
  return json(overall.status === "healthy" ? 200 : 503, authorized ? overall : { status: overall.status });
}

function refuse(role: "missing" | "invalid"): Response {
  if (role === "missing") return json(401, { error: "missing bearer token" }, { "WWW-Authenticate": 'Bearer realm="sv"' });
  return json(401, { error: "invalid bearer token" }, { "WWW-Authenticate": 'Bearer realm="sv", error="invalid_token"' });
}

// The route table, once the token is known and a slot is held.
async function answer(req: Request, url: URL, srv: Server<unknown>, role: Token["role"], deps: RouteDeps, release: () => void): Promise<Response> {
  const { getCtx, ops, inflight, streams, heartbeatMs } = deps;
  const route = matchRoute(url.pathname);
  if (route === "malformed") return json(400, { error: `malformed percent-escape in ${url.pathname}` });
  if (!route) return json(404, { error: `no such endpoint: ${url.pathname}` });
  // Every method Bun parses (PUT, DELETE, PATCH, OPTIONS …) gets here; one it cannot parse is refused by Bun itself.
  if (req.method !== route.method) return json(405, { error: `${req.method} is not allowed on ${url.pathname}` }, { Allow: route.method });
  if (route.method === "POST" && role !== "operate") return json(403, { error: "this token may only read (role: read); start, stop and restart need role: operate" });

  const ctx = getCtx();
  const project = ctx.project;
  switch (route.kind) {
    case "metrics":
      return new Response(renderMetrics(project, readState(ctx.paths)), { headers: { "Content-Type": METRICS_CONTENT_TYPE } });
    case "services":
      return json(200, { services: unitStatuses(ctx, readState(ctx.paths)) });
    case "service": {
      const state = readState(ctx.paths);
      const units = resolveUnits(project, state, route.name);
      if (!units) return unknownService(route.name);
      const service = project.services.has(route.name) ? route.name : serviceOf(route.name);
      return json(200, { services: unitStatuses(ctx, state, [service]).filter((r) => units.includes(r.name)) });
    }
    case "logs": {
      const units = resolveUnits(project, readState(ctx.paths), route.name);
      if (!units) return unknownService(route.name);
      const lines = parseCount(url.searchParams.get("lines"), DEFAULT_LOG_LINES, MAX_LOG_LINES);
      if (lines === null) return json(400, { error: `lines must be a whole number from 0 to ${MAX_LOG_LINES}` });
      // Each unit's log, from where its backend keeps it.
      const logsOf = (u: string) => ctx.backends.for(project.services.get(serviceOf(u))!).logs;
      return json(200, { units: await Promise.all(units.map(async (u) => ({ name: u, lines: await logsOf(u).tail(u, lines) }))) });
    }
    case "action": {
      if (!project.services.has(route.name)) return unknownService(route.name);
      srv.timeout(req, 0); // a start may wait up to default_timeout for readiness
      const run = { start: startServices, stop: stopServices, restart: restartServices }[route.action];
      // No progress lines for an API call; its warnings go where sv watch's own go.
      const reporter = { ...silentReporter, warn: (m: string) => ctx.reporter.warn(m) };
      const op = ops(() => run({ ...ctx, reporter }, [route.name]));
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
      return eventStream(ctx, { services, last, heartbeatMs, signal: req.signal, streams, release });
    }
  }
}

type Route =
  | { kind: "metrics" | "services" | "events"; method: "GET" }
  | { kind: "service" | "logs"; method: "GET"; name: string }
  | { kind: "action"; method: "POST"; name: string; action: "start" | "stop" | "restart" };

/** The endpoint a path names, null for none, "malformed" for a name that is not valid percent-encoded UTF-8 (`%ZZ`). */
function matchRoute(path: string): Route | "malformed" | null {
  if (path === "/metrics") return { kind: "metrics", method: "GET" };
  if (path === "/v1/services" || path === "/v1/services/") return { kind: "services", method: "GET" };
  if (path === "/v1/events") return { kind: "events", method: "GET" };
  const m = /^\/v1\/services\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return "malformed";
  }
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

function outcomeResponse(action: string, outcomes: Map<string, Outcome>): Response {
  const services = [...outcomes].map(([name, o]) => ({ name, ok: o.ok, skipped: o.skipped ?? false, message: o.message }));
  const failed = services.filter((s) => !s.ok).length;
  if (failed === 0) return json(200, { ok: true, services });
  return json(500, { ok: false, error: `${action}: ${failed} of ${services.length} service${services.length === 1 ? "" : "s"} failed`, services });
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
export function errorResponse(e: unknown, report?: (message: string) => void): Response {
  if (e instanceof SvError) {
    const status = e.exitCode === EXIT.usage ? 400 : e.exitCode === EXIT.locked ? 503 : 500;
    return json(status, { error: e.message, ...(e.hint ? { hint: e.hint } : {}) });
  }
  report?.(`internal error in the API (this is a bug): ${(e as Error)?.stack ?? String(e)}`);
  return json(500, { error: "internal error" });
}
