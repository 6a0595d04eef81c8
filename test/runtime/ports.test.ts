// Who holds a port: real listeners on IPv4 and IPv6 addresses, in this process and in children; /proc/net parsing.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { type PortHolder, decodeAddress, describePortHolder, findPortHolder, isPortFree, parseListeners } from "../../src/runtime/ports.ts";
import { isPortTaken } from "../../src/runtime/ports.ts";
import { BUN, REPO, fixture, freePort, killAfterTest, waitFor } from "../helpers/project.ts";

const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const line = (local: string, state: string, inode: number) =>
  `   0: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0`;

/** Can this machine listen on ::1? (IPv6 may be disabled.) */
const HAS_IPV6 = (() => {
  try {
    Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
})();

/** A child bun listening on 127.0.0.1:`port` (test/fixtures/tcp-server.ts), once it listens; killed after the test. */
async function childListener(port: number, ...extraArgs: string[]): Promise<Bun.Subprocess> {
  const child = Bun.spawn([BUN, fixture("tcp-server.ts"), String(port), ...extraArgs], { stdio: ["ignore", "ignore", "inherit"] });
  killAfterTest(child.pid);
  await waitFor(() => !isPortFree(port), `the child listening on ${port}`);
  return child;
}

describe.if(endianness() === "LE")("parsing /proc/net/tcp and tcp6", () => {
  const addresses: [string, string][] = [
    ["0100007F", "127.0.0.1"],
    ["00000000", "0.0.0.0"],
    ["0B01A8C0", "192.168.1.11"],
    ["00000000000000000000000001000000", "::1"],
    ["00000000000000000000000000000000", "::"],
    ["0000000000000000FFFF00000100007F", "::ffff:127.0.0.1"],
    ["000000FD000000000000000002000000", "fd00::2"],
    ["000080FE00000000FF000C02010000FE", "fe80::20c:ff:fe00:1"],
    ["B80D0120000000000000000000000000", "2001:db8::"],
    ["B80D0120010000000000000001000000", "2001:db8:0:1::1"],
  ];
  test.each(addresses)("address %s is %s", (hex, text) => {
    expect(decodeAddress(hex)).toBe(text);
  });

  test("only LISTEN (0A) entries, port from big-endian hex, inode from the 10th column", () => {
    const text = [HEADER, line("0100007F:1F90", "0A", 4242), line("0100007F:D6D8", "01", 99), line("00000000:0016", "0A", 17), line("0100007F:1F90", "06", 0), ""].join("\n");
    expect(parseListeners(text)).toEqual([
      { address: "127.0.0.1", port: 8080, inode: 4242 },
      { address: "0.0.0.0", port: 22, inode: 17 },
    ]);
  });

  test("the header and blank or short lines are not entries", () => {
    expect(parseListeners(`${HEADER}\n\n   0: 0100007F:1F90 0A\n`)).toEqual([]);
  });
});

describe("the message", () => {
  const cases: [string, PortHolder, string][] = [
    ["pid and command", { pid: 4242, command: "python3 -m http.server 8080", inode: 1 }, "port 8080 is already in use by pid 4242 (python3 -m http.server 8080)"],
    ["pid without a command", { pid: 4242, command: null, inode: 1 }, "port 8080 is already in use by pid 4242"],
    ["no pid", { pid: null, command: null, inode: 1 }, "port 8080 is already in use (by a process sv cannot see)"],
  ];
  test.each(cases)("%s", (_title, holder, message) => {
    expect(describePortHolder(8080, holder)).toBe(message);
  });
});

describe("real listeners", () => {
  const hosts: [string, boolean][] = [
    ["127.0.0.1", true],
    ["0.0.0.0", true],
    ["::1", HAS_IPV6],
    ["::", HAS_IPV6],
    ["::ffff:127.0.0.1", HAS_IPV6],
  ];
  for (const [hostname, available] of hosts) test.if(available)(`a listener of this process on ${hostname}, as the kernel lists it`, () => {
    const server = Bun.listen({ hostname, port: 0, socket: { data() {} } });
    try {
      const listed = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((file) => parseListeners(readFileSync(file, "latin1")));
      expect(listed.filter((l) => l.port === server.port).map((l) => l.address)).toEqual([hostname]);
      const holder = findPortHolder(server.port);
      expect(holder).toEqual({ pid: process.pid, command: expect.any(String), inode: expect.any(Number) });
      expect(holder!.inode).toBeGreaterThan(0);
      expect(isPortFree(server.port)).toBe(false);
    } finally {
      server.stop(true);
    }
  });

  test("a child process: its pid, its command line, the exact message; free again once it exits", async () => {
    const port = freePort();
    const child = await childListener(port);
    const holder = findPortHolder(port)!;
    expect(holder).toEqual({ pid: child.pid, command: `${BUN} ${REPO}/test/fixtures/tcp-server.ts ${port}`, inode: expect.any(Number) });
    expect(describePortHolder(port, holder)).toBe(`port ${port} is already in use by pid ${child.pid} (${BUN} ${REPO}/test/fixtures/tcp-server.ts ${port})`);
    child.kill("SIGKILL");
    await child.exited;
    await waitFor(() => isPortFree(port), `port ${port} free after the child exits`);
    expect(findPortHolder(port)).toBeNull();
  });

  test("a long command line is cut to 120 characters, newlines in arguments become spaces", async () => {
    const port = freePort();
    const child = await childListener(port, "line one\nline two", "x".repeat(300));
    const full = `${BUN} ${REPO}/test/fixtures/tcp-server.ts ${port} line one line two ${"x".repeat(300)}`;
    const { command } = findPortHolder(port)!;
    expect(command).toBe(`${full.slice(0, 119)}…`);
    expect(command!.length).toBe(120);
    child.kill("SIGKILL");
  });

  test.if(process.getuid?.() === 0 && Bun.which("setpriv") !== null)("a listener whose process sv cannot see (looked up as another user): no pid", async () => {
    const port = freePort();
    await childListener(port);
    const script = `import { findPortHolder, describePortHolder } from "${REPO}/src/runtime/ports.ts"; const h = findPortHolder(${port}); console.log(JSON.stringify([h, describePortHolder(${port}, h)]));`;
    const lookup = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BUN, "-e", script], { stdout: "pipe", stderr: "inherit", cwd: "/" });
    const [holder, message] = JSON.parse(await new Response(lookup.stdout).text());
    expect(await lookup.exited).toBe(0);
    expect(holder).toEqual({ pid: null, command: null, inode: expect.any(Number) });
    expect(message).toBe(`port ${port} is already in use (by a process sv cannot see)`);
  });
});

describe("what does not count", () => {
  test("a free port", () => {
    const port = freePort();
    expect(findPortHolder(port)).toBeNull();
    expect(isPortFree(port)).toBe(true);
  });

  test("a UDP socket on the port", async () => {
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1" });
    try {
      expect(findPortHolder(udp.port)).toBeNull();
      expect(isPortFree(udp.port)).toBe(true);
    } finally {
      udp.close();
    }
  });

  test("the local port of a connected client socket (not LISTEN)", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const client = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
    try {
      expect(client.localPort).toBeGreaterThan(0);
      expect(findPortHolder(client.localPort)).toBeNull();
      expect(findPortHolder(server.port)?.pid).toBe(process.pid);
    } finally {
      client.end();
      server.stop(true);
    }
  });
});

test("isPortTaken: a listener is taken; a port left with only TIME_WAIT sockets is not (a server binds it again)", async () => {
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  // The server closes first, so its side of the connection (on the listening port) goes to TIME_WAIT.
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open(s) { s.end(); }, data() {} } });
  const port = server.port;
  expect(isPortTaken(port)).toBe(true);
  await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, close() { closed(); } } });
  await done;
  server.stop(true);
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  // TIME_WAIT is state 06 (the kernel gets there once the client's FIN is in, a moment after its close).
  const timeWait = () => readFileSync("/proc/net/tcp", "latin1").split("\n").some((l) => l.includes(`:${hex} `) && l.trim().split(/\s+/)[3] === "06");
  await waitFor(timeWait, "a TIME_WAIT socket on the port", 5000);
  expect(isPortTaken(port)).toBe(false);
});
