// The TCP probe: the bun:ffi fast path for IPv4 literals and localhost, and Bun.connect for names and IPv6.
import { expect, test } from "bun:test";
import { dlopen, FFIType, read } from "bun:ffi";
import { readdirSync, readFileSync } from "node:fs";
import { connectReason, ipv4Bytes, probeTcp } from "../../src/probes/tcp.ts";
import { BUN, fixture, freePort, isListening, killAfterTest, sv, tempProject, unitStatus, waitFor } from "../helpers/project.ts";

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  accept: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
}).symbols;

/**
 * A listener on 127.0.0.1 that never accepts, with listen(fd, 0) and one connection already parked in its accept
 * queue: the queue is full, so the kernel drops further SYNs and a connect stays pending (as with a stalled server).
 */
function stalledListener(): { port: number; acceptOne(): void; close(): void } {
  const fail = (what: string) => new Error(`${what}: errno ${read.i32(libc.__errno_location()!, 0)}`);
  const fds: number[] = [];
  const listener = libc.socket(2, 1 | 0o2000000, 0);
  fds.push(listener);
  const addr = Buffer.alloc(16);
  addr.writeUInt16LE(2, 0);
  addr.set([127, 0, 0, 1], 4);
  if (libc.bind(listener, addr, 16) !== 0) throw fail("bind");
  if (libc.listen(listener, 0) !== 0) throw fail("listen");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(16);
  if (libc.getsockname(listener, addr, len) !== 0) throw fail("getsockname");
  const parked = libc.socket(2, 1 | 0o2000000, 0);
  fds.push(parked);
  if (libc.connect(parked, addr, 16) !== 0) throw fail("connect (blocking, to fill the queue)");
  return {
    port: addr.readUInt16BE(2),
    /** Take the parked connection off the queue, making room for one more. */
    acceptOne() {
      const accepted = libc.accept(listener, null, null);
      if (accepted < 0) throw fail("accept");
      fds.push(accepted);
    },
    /** Close everything, once (a second close could hit an fd number reused meanwhile). */
    close: () => {
      for (const fd of fds.splice(0)) libc.close(fd);
    },
  };
}

const openFds = () => readdirSync("/proc/self/fd").length;

/** Our sockets still trying to connect (SYN-SENT) to `port`, from /proc/net/tcp. */
function synSentTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).filter((line) => {
    const f = line.trim().split(/\s+/);
    return f[2]?.endsWith(`:${hexPort}`) && f[3] === "02";
  }).length;
}

/** The tcp-server fixture in its own process (so its accepted sockets are not in our fd table). */
async function serverProcess(port: number): Promise<number> {
  const server = Bun.spawn([BUN, fixture("tcp-server.ts"), String(port)], { stdio: ["ignore", "ignore", "ignore"] });
  killAfterTest(server.pid);
  await waitFor(() => isListening(port), `tcp server on ${port}`);
  return server.pid;
}

test("ipv4Bytes takes dotted quads only; anything else goes to Bun.connect", () => {
  expect(ipv4Bytes("127.0.0.1")).toEqual(new Uint8Array([127, 0, 0, 1]));
  expect(ipv4Bytes("0.0.0.0")).toEqual(new Uint8Array([0, 0, 0, 0]));
  expect(ipv4Bytes("255.255.255.255")).toEqual(new Uint8Array([255, 255, 255, 255]));
  for (const host of ["localhost", "::1", "127.0.0", "127.0.0.1.2", "256.0.0.1", "127.0.0.01", "127.0.0.-1", "127.0.0.1 ", "1e2.0.0.1", "", "example.com"]) {
    expect(ipv4Bytes(host)).toBeNull();
  }
});

test("connect errnos become reasons: refused keeps its wording, others are named", () => {
  expect(connectReason("127.0.0.1", 80, 0)).toBeNull();
  expect(connectReason("127.0.0.1", 80, 111)).toBe("127.0.0.1:80 refused the connection");
  expect(connectReason("10.1.2.3", 5432, 101)).toBe("10.1.2.3:5432: connect failed (ENETUNREACH)");
  expect(connectReason("10.1.2.3", 5432, 113)).toBe("10.1.2.3:5432: connect failed (EHOSTUNREACH)");
  expect(connectReason("10.1.2.3", 5432, 4095)).toBe("10.1.2.3:5432: connect failed (errno 4095)");
});

test("a listening port is ok, by IPv4 literal and by localhost", async () => {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    expect(await probeTcp("127.0.0.1", server.port, 1000)).toBeNull();
    expect(await probeTcp("localhost", server.port, 1000)).toBeNull();
    // 0.0.0.0 as a destination means this host on Linux.
    expect(await probeTcp("0.0.0.0", server.port, 1000)).toBeNull();
  } finally {
    server.stop(true);
  }
});

test("a closed port is refused, with the same message as before the fast path", async () => {
  const port = freePort();
  expect(await probeTcp("127.0.0.1", port, 1000)).toBe(`127.0.0.1:${port} refused the connection`);
  expect(await probeTcp("localhost", port, 1000)).toBe(`localhost:${port} refused the connection`);
});

test("localhost still finds a server that listens on ::1 only (Bun.connect tries it after 127.0.0.1 refuses)", async () => {
  const server = Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } });
  try {
    expect(await probeTcp("localhost", server.port, 1000)).toBeNull();
    expect(await probeTcp("127.0.0.1", server.port, 1000)).toBe(`127.0.0.1:${server.port} refused the connection`);
  } finally {
    server.stop(true);
  }
});

test("IPv6 literals keep the Bun.connect path: ok and refused", async () => {
  const server = Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } });
  const port = server.port;
  try {
    expect(await probeTcp("::1", port, 1000)).toBeNull();
  } finally {
    server.stop(true);
  }
  expect(await probeTcp("::1", port, 1000)).toBe(`::1:${port} refused the connection`);
});

test("a server whose accept queue is full times out, and the pending connect is closed, not left retrying", async () => {
  const stalled = stalledListener();
  try {
    const before = openFds();
    expect(await probeTcp("127.0.0.1", stalled.port, 200)).toBe(`127.0.0.1:${stalled.port} did not accept a connection within 200 ms`);
    expect(await probeTcp("localhost", stalled.port, 200)).toBe(`localhost:${stalled.port} did not accept a connection within 200 ms`);
    expect(openFds()).toBe(before);
    expect(synSentTo(stalled.port)).toBe(0);
  } finally {
    stalled.close();
  }
});

test("a pending connect is polled until the server makes room: then it is ok", async () => {
  const stalled = stalledListener();
  try {
    // The probe's SYN is dropped inside this call; the kernel resends it about a second later.
    const probe = probeTcp("127.0.0.1", stalled.port, 10_000);
    stalled.acceptOne();
    expect(await probe).toBeNull();
  } finally {
    stalled.close();
  }
});

test("a pending connect is polled until the server goes away: then it is refused", async () => {
  const stalled = stalledListener();
  try {
    const probe = probeTcp("127.0.0.1", stalled.port, 10_000);
    // Without a listener the resent SYN is answered with a reset.
    stalled.close();
    expect(await probe).toBe(`127.0.0.1:${stalled.port} refused the connection`);
  } finally {
    stalled.close();
  }
});

test("1000 probes leave no fd behind", async () => {
  const open = freePort();
  await serverProcess(open);
  const refused = freePort();
  const stalled = stalledListener();
  try {
    // Warm up first, so that whatever Bun opens once (e.g. for dlopen) is not counted.
    await probeTcp("127.0.0.1", open, 1000);
    const before = openFds();
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => probeTcp("127.0.0.1", i % 2 ? open : refused, 1000)));
      expect(results.filter((r) => r === null).length).toBe(50);
      expect(results.filter((r) => r === `127.0.0.1:${refused} refused the connection`).length).toBe(50);
    }
    const timeouts = await Promise.all(Array.from({ length: 10 }, () => probeTcp("127.0.0.1", stalled.port, 50)));
    expect(timeouts.every((r) => r?.endsWith("did not accept a connection within 50 ms"))).toBe(true);
    expect(openFds()).toBe(before);
  } finally {
    stalled.close();
  }
});

test("the server sees an orderly close (EOF), never a reset", async () => {
  const seen: string[] = [];
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data() {},
      end() {
        seen.push("end");
      },
      error(_socket, error) {
        seen.push(`error ${(error as NodeJS.ErrnoException).code ?? error.message}`);
      },
      close() {
        seen.push("close");
      },
    },
  });
  try {
    expect(await probeTcp("127.0.0.1", server.port, 1000)).toBeNull();
    await waitFor(() => seen.includes("close"), "the server to see the probe's connection close");
    expect(seen.filter((s) => s.startsWith("error"))).toEqual([]);
    expect(seen).toContain("end");
  } finally {
    server.stop(true);
  }
});

test("sv status reports a tcp-checked service healthy, unhealthy when its port closes, and healthy again", async () => {
  const port = freePort();
  let serverPid = await serverProcess(port);
  const p = tempProject();
  p.write(
    "services/api.yml",
    JSON.stringify({ command: ["sleep", "1000"], restart: "no", health_check: { type: "tcp", host: "127.0.0.1", port, interval: "100ms", timeout: "1s", retries: 2 } }),
  );
  p.write("services/cache.yml", JSON.stringify({ command: ["sleep", "1000"], restart: "no", health_check: { type: "tcp", host: "localhost", port, interval: "100ms", timeout: "1s", retries: 2 } }));
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  expect(await unitStatus(p.root, "api")).toMatchObject({ state: "running", health: "healthy", last_error: null });
  expect(await unitStatus(p.root, "cache")).toMatchObject({ state: "running", health: "healthy", last_error: null });

  process.kill(serverPid, "SIGKILL");
  await waitFor(async () => !(await isListening(port)), `port ${port} to close`);
  const api = await waitFor(async () => {
    const u = await unitStatus(p.root, "api");
    return u.health === "unhealthy" && u;
  }, "api to turn unhealthy");
  expect(api).toMatchObject({ state: "running", health: "unhealthy", last_error: `health check failed: 127.0.0.1:${port} refused the connection` });
  expect(await unitStatus(p.root, "cache")).toMatchObject({ health: "unhealthy", last_error: `health check failed: localhost:${port} refused the connection` });

  serverPid = await serverProcess(port);
  expect(await unitStatus(p.root, "api")).toMatchObject({ state: "running", health: "healthy" });
  expect(await unitStatus(p.root, "cache")).toMatchObject({ state: "running", health: "healthy" });
});
