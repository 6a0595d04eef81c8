// A recording proxy in front of a container engine's unix socket: every HTTP request that passes is noted
// (method, path, request body, status, and when it was sent, answered and finished, on this process's
// performance.now() clock, the one the benchmark times commands with). It parses HTTP/1.1 both ways:
// Content-Length and chunked bodies, keep-alive, streamed answers (/events: each chunk's arrival is noted),
// and answers with neither (read until close). A 101 or a hijacked stream turns the connection into a plain pipe.
import { rmSync } from "node:fs";
import type { Socket } from "bun";

export interface Recorded {
  /** Which client connection it came on (1, 2, …), in accept order. */
  conn: number;
  method: string;
  /** The path with its query string, as sent. */
  path: string;
  /** The request body as text (cut at 64 KiB). */
  body: string;
  /** First byte of the request seen / its last byte forwarded. */
  sentAt: number;
  sentEndAt?: number;
  /** First byte of the answer / its last byte (undefined while it streams). */
  headAt?: number;
  endAt?: number;
  status?: number;
  /** Arrival of each chunk of an /events answer after its head (at most 1000 kept), with its first 200 bytes. */
  chunks: { at: number; text: string }[];
}

export interface Proxy {
  socket: string;
  /** Everything recorded since the last reset(), in the order the requests started. */
  requests: Recorded[];
  /** Forget what was recorded, except event streams still open (their later chunks stay visible). */
  reset(): void;
  close(): void;
}

const CRLF2 = "\r\n\r\n";
const MAX_BODY = 64 * 1024;

/** Incremental parse of one HTTP/1.1 message body: by length, chunked, or until close. */
class Body {
  private left: number;
  private chunkLeft = -1;
  private line = "";
  private trailer = false;
  done = false;
  constructor(readonly mode: "length" | "chunked" | "close" | "none", length = 0) {
    this.left = length;
    if (mode === "none" || (mode === "length" && length === 0)) this.done = true;
  }
  /** Consume from `b` at `at`; returns how many bytes belonged to this body. */
  feed(b: Uint8Array, at: number): number {
    if (this.done) return 0;
    if (this.mode === "close") return b.length - at;
    if (this.mode === "length") {
      const n = Math.min(this.left, b.length - at);
      this.left -= n;
      if (this.left === 0) this.done = true;
      return n;
    }
    let i = at;
    while (i < b.length && !this.done) {
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, b.length - i);
        this.chunkLeft -= n;
        i += n;
        if (this.chunkLeft === 0) this.chunkLeft = -2; // the CRLF after the data
        continue;
      }
      // reading a line: a chunk size, the CRLF after data, or a trailer line
      const c = b[i++]!;
      if (c !== 10) {
        if (c !== 13) this.line += String.fromCharCode(c);
        continue;
      }
      const line = this.line;
      this.line = "";
      if (this.chunkLeft === -2) {
        this.chunkLeft = -1;
        continue;
      }
      if (this.trailer) {
        if (line === "") this.done = true;
        continue;
      }
      const size = parseInt(line.split(";")[0]!, 16);
      if (size === 0) this.trailer = true;
      else this.chunkLeft = size;
    }
    return i - at;
  }
}

interface Head {
  first: string;
  headers: Map<string, string>;
}

function parseHead(text: string): Head {
  const [first, ...lines] = text.split("\r\n");
  const headers = new Map<string, string>();
  for (const l of lines) {
    const colon = l.indexOf(":");
    if (colon > 0) headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
  }
  return { first: first ?? "", headers };
}

function bodyOf(h: Head, fallback: "none" | "close"): Body {
  if (/chunked/i.test(h.headers.get("transfer-encoding") ?? "")) return new Body("chunked");
  const len = h.headers.get("content-length");
  if (len !== undefined) return new Body("length", Number(len));
  return new Body(fallback);
}

const decoder = new TextDecoder();
const concat = (a: Uint8Array, b: Uint8Array) => {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/** One direction's parser: heads and bodies, one message after another. */
class Parser {
  private buf = new Uint8Array(0);
  private body: Body | null = null;
  /** A plain pipe from now on (upgrade, hijack, unparsable). */
  raw = false;
  constructor(
    private readonly onHead: (h: Head, at: number) => Body,
    private readonly onBody: (bytes: Uint8Array, at: number) => void,
    private readonly onEnd: (at: number) => void,
  ) {}
  push(chunk: Uint8Array, at: number): void {
    if (this.raw) return;
    const b = concat(this.buf, chunk);
    let i = 0;
    while (i < b.length && !this.raw) {
      if (this.body) {
        const n = this.body.feed(b, i);
        if (n > 0) this.onBody(b.subarray(i, i + n), at);
        i += n;
        if (this.body.done) {
          this.body = null;
          this.onEnd(at);
        }
        continue;
      }
      const text = decoder.decode(b.subarray(i, Math.min(b.length, i + 16384)));
      const end = text.indexOf(CRLF2);
      if (end === -1) {
        if (b.length - i > 16384) this.raw = true;
        break;
      }
      // heads are ASCII: string offsets are byte offsets
      const head = parseHead(text.slice(0, end));
      i += end + 4;
      this.body = this.onHead(head, at);
      if (this.body.done) {
        this.body = null;
        this.onEnd(at);
      }
    }
    this.buf = b.slice(i);
  }
}

/** Writes to a Bun socket, queueing what does not fit until it drains. */
class Writer {
  private queue: Uint8Array[] = [];
  constructor(private sock: Socket<any> | null = null) {}
  attach(sock: Socket<any>): void {
    this.sock = sock;
    this.flush();
  }
  write(b: Uint8Array): void {
    // a copy: the socket may reuse the buffer it handed us once the callback returns
    this.queue.push(b.slice());
    this.flush();
  }
  flush(): void {
    if (!this.sock) return;
    while (this.queue.length) {
      const b = this.queue[0]!;
      const n = this.sock.write(b);
      if (n < b.length) {
        this.queue[0] = b.subarray(Math.max(0, n));
        return;
      }
      this.queue.shift();
    }
  }
  get empty(): boolean {
    return this.queue.length === 0;
  }
}

interface Conn {
  id: number;
  toUpstream: Writer;
  toClient: Writer;
  upstream: Socket<any> | null;
  client: Socket<any>;
  /** Requests sent on this connection and not yet answered in full, oldest first. */
  pending: Recorded[];
  closed: boolean;
  req: Parser;
  res: Parser;
}

/** Listen on `socket` and forward every connection to `upstream`, recording what passes. */
export function startProxy(upstream: string, socket: string): Proxy {
  rmSync(socket, { force: true });
  const requests: Recorded[] = [];
  let nextConn = 0;
  const conns = new Set<Conn>();

  const end = (c: Conn) => {
    if (c.closed) return;
    c.closed = true;
    conns.delete(c);
    try {
      c.client.end();
    } catch {}
    try {
      c.upstream?.end();
    } catch {}
  };

  const server = Bun.listen<Conn>({
    unix: socket,
    socket: {
      open(client) {
        const c: Conn = {
          id: ++nextConn,
          toUpstream: new Writer(),
          toClient: new Writer(client),
          upstream: null,
          client,
          pending: [],
          closed: false,
          req: undefined as unknown as Parser,
          res: undefined as unknown as Parser,
        };
        let current: Recorded | null = null;
        c.req = new Parser(
          (h, at) => {
            const [method = "?", path = "?"] = h.first.split(" ");
            current = { conn: c.id, method, path, body: "", sentAt: at, chunks: [] };
            requests.push(current);
            c.pending.push(current);
            return bodyOf(h, "none");
          },
          (bytes) => {
            if (current && current.body.length < MAX_BODY) current.body += decoder.decode(bytes).slice(0, MAX_BODY - current.body.length);
          },
          (at) => {
            if (current) current.sentEndAt = at;
            current = null;
          },
        );
        c.res = new Parser(
          (h, at) => {
            const r = c.pending[0];
            const status = Number(h.first.split(" ")[1]);
            if (r) {
              r.headAt ??= at;
              r.status = status;
            }
            if (status === 101 || (h.headers.get("content-type") ?? "").includes("vnd.docker.raw-stream")) {
              c.res.raw = true;
              c.req.raw = true;
            }
            if (status === 100) return new Body("none");
            const noBody = status === 204 || status === 304 || (status >= 100 && status < 200) || r?.method === "HEAD";
            return noBody ? new Body("none") : bodyOf(h, "close");
          },
          (bytes, at) => {
            const r = c.pending[0];
            if (r && r.chunks.length < 1000 && /\/events(\?|$)/.test(r.path)) r.chunks.push({ at, text: decoder.decode(bytes.subarray(0, 200)) });
          },
          (at) => {
            const r = c.pending.shift();
            if (r) r.endAt = at;
          },
        );
        client.data = c;
        conns.add(c);
        void Bun.connect<Conn>({
          unix: upstream,
          data: c,
          socket: {
            open(up) {
              c.upstream = up;
              c.toUpstream.attach(up);
            },
            data(_up, chunk) {
              c.res.push(chunk, performance.now());
              c.toClient.write(chunk);
            },
            drain() {
              c.toUpstream.flush();
            },
            close() {
              const at = performance.now();
              // an answer read until close ends here
              for (const r of c.pending) if (r.headAt !== undefined && r.endAt === undefined) r.endAt = at;
              end(c);
            },
            error() {
              end(c);
            },
          },
        }).catch(() => end(c));
      },
      data(client, chunk) {
        const c = client.data;
        c.req.push(chunk, performance.now());
        c.toUpstream.write(chunk);
      },
      drain(client) {
        client.data.toClient.flush();
      },
      close(client) {
        end(client.data);
      },
      error(client) {
        end(client.data);
      },
    },
  });

  return {
    socket,
    requests,
    reset() {
      const open = requests.filter((r) => r.endAt === undefined && /\/events(\?|$)/.test(r.path));
      for (const r of open) r.chunks.length = 0;
      requests.length = 0;
      requests.push(...open);
    },
    close() {
      for (const c of [...conns]) end(c);
      server.stop(true);
      rmSync(socket, { force: true });
    },
  };
}

/** A request in one short line: `GET /v1.41/containers/json?all=1&filters={"label":[…]}` (query decoded). */
export function describeRequest(r: Recorded): string {
  let path = r.path;
  try {
    path = decodeURIComponent(path);
  } catch {}
  return `${r.method} ${path}`;
}
