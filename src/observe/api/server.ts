// The HTTP API of `sv watch --listen`: startApi binds Bun.serve (TLS off loopback), hands requests to routes.ts, stops cleanly.
import type { Server } from "bun";
import type { ApiSettings } from "../../config/schema.ts";
import type { Ctx } from "../../engine/context.ts";
import { EXIT, SvError, UsageError } from "../../errors.ts";
import { loadTokens } from "./auth.ts";
import { readKeyFile } from "./key-files.ts";
import { limiter, REQUEST_LIMITS, STREAM_LIMITS } from "./limits.ts";
import { errorResponse, handleRequest } from "./routes.ts";
import { SSE_HEARTBEAT_MS } from "./sse.ts";

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
  const limits = { streams: limiter(STREAM_LIMITS), requests: limiter(REQUEST_LIMITS) };
  const deps = { tokens, getCtx, ops, inflight, streams, limits, heartbeatMs: opts.heartbeatMs ?? SSE_HEARTBEAT_MS };
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
          res = await handleRequest(req, srv, deps);
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

function loadTls(tls: NonNullable<ApiSettings["tls"]>): { cert: string; key: string } {
  return { cert: readKeyFile("api.tls.cert", tls.certFile), key: readKeyFile("api.tls.key", tls.keyFile) };
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

