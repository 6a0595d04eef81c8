// A Docker Engine API client over its unix socket, with Bun's fetch (no docker CLI, no dockerode). Speaks
// the version the engine offers (dockerd 20.10: 1.41; newer engines refuse below 1.44; podman takes any),
// using only fields that exist in 1.41.
import { lineSplitter } from "../../runtime/lines.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SvError } from "../../errors.ts";

/** The newest API version sv asks for; an engine offering more serves this one too. */
const MAX_VERSION = "1.47";
const CONNECT_HINT = "start the engine, or point sv at one: docker: { host: unix:///path/to.sock } in sv.yml, or DOCKER_HOST";

/**
 * An engine's answer that is not 2xx: its status and its message. An SvError, so one that reaches the
 * user (an engine answering 500 mid-refresh) is a line with the engine's words, not an internal error.
 */
export class EngineError extends SvError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The engine could not be reached at all (no socket, no permission, not an engine). */
export class EngineUnreachable extends SvError {}

export interface EngineSocket {
  socket: string;
  /** Where it came from: sv.yml, DOCKER_HOST, or the default places. */
  from: string;
}

/** The socket to use: sv.yml `docker.host`, else DOCKER_HOST, else the first of the usual sockets that exists. */
export function findSocket(configured: string | undefined, env: Record<string, string | undefined> = process.env): EngineSocket {
  if (configured) return { socket: configured, from: "docker.host in sv.yml" };
  const host = env.DOCKER_HOST;
  if (host) {
    if (!host.startsWith("unix://")) throw new EngineUnreachable(`DOCKER_HOST=${host}: only unix:// sockets are supported; ${CONNECT_HINT}`);
    return { socket: host.slice("unix://".length), from: "DOCKER_HOST" };
  }
  const candidates = ["/var/run/docker.sock", "/run/podman/podman.sock", ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, "podman", "podman.sock")] : [])];
  const found = candidates.find((c) => existsSync(c));
  return { socket: found ?? candidates[0]!, from: found ? "the default sockets" : `none of ${candidates.join(", ")} exists` };
}

const isOk = (status: number) => status >= 200 && status < 300;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Raw bytes to send (an image tar). */
  raw?: Blob | Uint8Array;
  signal?: AbortSignal;
}

export class EngineClient {
  private version: Promise<string> | null = null;

  constructor(readonly where: EngineSocket) {}

  get socket(): string {
    return this.where.socket;
  }

  /** `/vX.Y`: the version the engine offers (from /_ping), capped at the newest sv asks for. */
  private prefix(): Promise<string> {
    this.version ??= this.ping().catch((e) => {
      this.version = null;
      throw e;
    });
    return this.version.then((v) => `/v${v}`);
  }

  /** Is it an engine? Its API version. */
  async ping(): Promise<string> {
    const res = await this.send("GET", "/_ping", {});
    const body = await res.text();
    if (!isOk(res.status) || body.trim() !== "OK") throw this.unreachable(`it answered ${res.status} ${body.slice(0, 60).trim()}: not a Docker API`);
    const offered = res.headers.get("api-version") ?? "1.41";
    return compareVersions(offered, MAX_VERSION) > 0 ? MAX_VERSION : offered;
  }

  /** A request under the negotiated version; non-2xx answers throw an EngineError with the engine's message. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const res = await this.send(method, `${await this.prefix()}${path}`, opts);
    if (isOk(res.status)) return res;
    throw new EngineError(res.status, await errorMessage(res));
  }

  async json<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  /** A request whose answer is a stream of JSON objects (pull, events); each is given to `onObject`. */
  async stream(method: string, path: string, onObject: (o: any) => void, opts: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, opts);
    if (!res.body) return;
    const decoder = new TextDecoder();
    const split = lineSplitter((line) => void (line.trim() && onObject(JSON.parse(line))));
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) split(decoder.decode(chunk, { stream: true }));
    split("\n");
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const query = opts.query ? Object.entries(opts.query).filter(([, v]) => v !== undefined) : [];
    const qs = query.length ? `?${new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)])).toString()}` : "";
    const headers: Record<string, string> = {};
    let body: Blob | Uint8Array | string | undefined;
    if (opts.raw !== undefined) {
      headers["content-type"] = "application/x-tar";
      body = opts.raw;
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    try {
      return await fetch(`http://localhost${path}${qs}`, { method, headers, body, unix: this.socket, signal: opts.signal } as RequestInit);
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      throw this.unreachable(describeConnectError(e as NodeJS.ErrnoException));
    }
  }

  /** Said per service (a reason in the store), so the way out is in the message itself. */
  private unreachable(why: string): EngineUnreachable {
    return new EngineUnreachable(`container engine at ${this.socket} (${this.where.from}): ${why}; ${CONNECT_HINT}`);
  }
}

function describeConnectError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOENT":
      return "no such socket";
    case "EACCES":
    case "EPERM":
      return "permission denied (is your user in the docker group?)";
    case "ECONNREFUSED":
      return "nothing accepts connections there";
    case "ECONNRESET":
      return "the connection was closed: not a Docker API?";
    default:
      return e.code ?? e.message;
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const m = (JSON.parse(text) as { message?: string; cause?: string }).message;
    if (m) return m.trim();
  } catch {}
  return text.trim().slice(0, 200) || `HTTP ${res.status}`;
}

export function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split(".").map(Number);
  const [b1, b2] = b.split(".").map(Number);
  return a1! - b1! || a2! - b2!;
}

/** One frame of the multiplexed stream: 1 stdout, 2 stderr. */
export interface Frame {
  stream: number;
  text: string;
}

/** Splits the engine's multiplexed stream (an 8-byte header per frame: stream, 0, 0, 0, size) into frames. */
export class LogDemuxer {
  private pending = new Uint8Array(0);
  private readonly decoders = new Map<number, TextDecoder>();

  /** Feed bytes; returns every frame completed by them. */
  push(chunk: Uint8Array): Frame[] {
    const data = new Uint8Array(this.pending.length + chunk.length);
    data.set(this.pending);
    data.set(chunk, this.pending.length);
    const out: Frame[] = [];
    let at = 0;
    while (data.length - at >= 8) {
      const stream = data[at]!;
      const size = new DataView(data.buffer, data.byteOffset + at + 4, 4).getUint32(0);
      if (data.length - at - 8 < size) break;
      let decoder = this.decoders.get(stream);
      if (!decoder) this.decoders.set(stream, (decoder = new TextDecoder()));
      out.push({ stream, text: decoder.decode(data.subarray(at + 8, at + 8 + size), { stream: true }) });
      at += 8 + size;
    }
    this.pending = data.slice(at);
    return out;
  }
}

/** Read a multiplexed body to its end (or until `signal` aborts), giving each frame to `onFrame`. */
export async function readFrames(body: ReadableStream<Uint8Array> | null, onFrame: (f: Frame) => void): Promise<void> {
  if (!body) return;
  const demux = new LogDemuxer();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) for (const f of demux.push(chunk)) onFrame(f);
}
