// The backend contract against the fake backend, and what only the fake offers (its vocabulary, crash, world).
import { describe, expect, test } from "bun:test";
import type { Handle, StartRequest } from "../../src/backends/backend.ts";
import { createFakeBackend, dropFakeWorld } from "../../src/backends/fake/index.ts";
import { projectPaths, type Paths } from "../../src/paths.ts";
import { waitFor } from "../helpers/project.ts";
import { backendContract, type Behaviour, type ExecBehaviour, type Rig } from "./contract.ts";
import { testService } from "./service.ts";

function fakeCommand(b: Behaviour): string[] {
  switch (b.kind) {
    case "run":
      return [...(b.log ?? []).flatMap((l) => ["log", l]), "run"];
    case "exit":
      return ["exit", String(b.code), "after", `${b.afterMs}ms`];
    case "signal":
      return ["signal", b.signal, "after", `${b.afterMs}ms`];
    case "ignore-stop":
      return ["ignore-stop"];
    case "leave-child":
      return ["hold-port", String(b.port), "exit", String(b.code)];
  }
}

function execArgv(b: ExecBehaviour): string[] {
  switch (b.kind) {
    case "exit":
      return [...(b.stdout === undefined ? [] : ["log", b.stdout]), ...(b.stderr === undefined ? [] : ["stderr", b.stderr]), "exit", String(b.code)];
    case "hang":
    case "hang-in-child":
      return ["run"];
    case "not-found":
      return ["no-such-command"];
  }
}

const freshPaths = (): Paths => projectPaths(`/fake-project/${crypto.randomUUID()}`);

function fakeRig(): Rig {
  const paths = freshPaths();
  const backend = createFakeBackend(paths);
  let nextPort = 20_000;
  return {
    backend,
    service: (name, b) => testService(name, fakeCommand(b), "/"),
    execArgv,
    runs: (unit) => backend.world.runs(unit),
    // A second fake backend on the same paths is another sv on the same machine.
    inspectElsewhere: (unit, handle) => createFakeBackend(paths).inspect(unit, handle),
    async startAndDie(req: StartRequest): Promise<Handle> {
      const other = createFakeBackend(paths);
      const started = await other.start(req);
      other.simulateOwnerDeath();
      return started.handle;
    },
    portHeld: (port) => backend.world.portHolder(port) !== null,
    occupyPort: async (port) => backend.world.occupyPort(port),
    freePort: () => nextPort++,
    address: "127.0.0.1",
    dispose: () => dropFakeWorld(paths),
  };
}

backendContract("fake", fakeRig);

describe("the fake backend's own vocabulary", () => {
  const setup = () => {
    const paths = freshPaths();
    const backend = createFakeBackend(paths);
    const req = (unit: string, command: string | string[], port?: number): StartRequest => ({ unit, svc: testService(unit, command, "/"), instance: 0, env: {}, inherited: process.env, port, spec: { hash: "0", type: "simple", backend: "fake", stop_signal: "SIGTERM", stop_timeout_ms: 300, port: port ?? null } });
    return { backend, req };
  };

  test("an unknown first word is a command that does not exist", async () => {
    const { backend, req } = setup();
    await expect(backend.start(req("api", ["fail-start"]))).rejects.toThrow("cannot start fail-start: command not found");
    await expect(backend.start(req("api", "frobnicate --now"))).rejects.toThrow("cannot start frobnicate: command not found");
  });

  test("a malformed command is a bug in the test, said plainly", async () => {
    const { backend, req } = setup();
    await expect(backend.start(req("api", ["exit", "soon"]))).rejects.toThrow('fake backend: exit needs a number, got "soon"');
    await expect(backend.start(req("api", ["sleep", "5"]))).rejects.toThrow('fake backend: "5" is not a duration (250ms, 2s, 1m)');
    await expect(backend.start(req("api", ["run", "log", "x"]))).rejects.toThrow('fake backend: "log x" after the end of ["run","log","x"]');
  });

  test("stop-exit: a service that handles the stop signal exits with its own code", async () => {
    const { backend, req } = setup();
    const s = await backend.start(req("api", ["stop-exit", "0", "run"]));
    await s.release();
    expect(await backend.stop("api", s.handle, { signal: "SIGTERM", timeoutMs: 1000 })).toMatchObject({ forced: false, wasRunning: true });
    expect(await backend.inspect("api", s.handle)).toEqual({ alive: false, exit: { code: 0, signal: null }, pid: s.handle.pid as number });
  });

  test("stop-takes: a slow stop within the timeout is graceful, past it is forced", async () => {
    const { backend, req } = setup();
    const slow = await backend.start(req("slow", ["stop-takes", "50ms"]));
    const slower = await backend.start(req("slower", ["stop-takes", "1m"]));
    await Promise.all([slow.release(), slower.release()]);
    const [a, b] = await Promise.all([
      backend.stop("slow", slow.handle, { signal: "SIGINT", timeoutMs: 2000 }),
      backend.stop("slower", slower.handle, { signal: "SIGINT", timeoutMs: 100 }),
    ]);
    expect(a).toMatchObject({ forced: false, wasRunning: true });
    expect(a.durationMs).toBeGreaterThanOrEqual(40);
    expect(b).toMatchObject({ forced: true, wasRunning: true });
    expect((await backend.inspect("slow", slow.handle)).exit).toEqual({ code: null, signal: "SIGINT" });
    expect((await backend.inspect("slower", slower.handle)).exit).toEqual({ code: null, signal: "SIGKILL" });
  });

  test("log, stderr and sleep happen in order, then the service runs on", async () => {
    const { backend, req } = setup();
    const s = await backend.start(req("api", "log a sleep 20ms stderr b"));
    await s.release();
    await waitFor(async () => (await backend.logs.tail("api", 5)).length === 2, "two lines");
    expect(await backend.logs.tail("api", 5)).toEqual(["a", "b"]);
    expect((await backend.inspect("api", s.handle)).alive).toBe(true);
  });

  test("crash ends a running unit as told; exited settles with it", async () => {
    const { backend, req } = setup();
    const s = await backend.start(req("api", ["run"]));
    await s.release();
    backend.crash(s.handle, { code: 137, signal: null });
    expect(await s.exited).toEqual({ code: 137, signal: null });
    expect(await backend.inspect("api", s.handle)).toMatchObject({ alive: false, exit: { code: 137, signal: null } });
  });

  test("a stray child's port is refused to the next start until it is reaped", async () => {
    const { backend, req } = setup();
    const s = await backend.start(req("web", ["hold-port", "8080", "exit", "1"], 8080));
    await s.release();
    await expect(backend.start(req("web", ["run"], 8080))).rejects.toThrow(`web: port 8080 is already in use by pid ${(s.handle.pid as number) + 1} (hold-port 8080)`);
    await backend.reap("web", s.handle);
    await backend.start(req("web", ["run"], 8080));
  });

  test("every exec is recorded in the world", async () => {
    const { backend, req } = setup();
    const svc = req("api", ["run"]).svc;
    await backend.exec({ unit: "api", svc, argv: ["exit", "0"], env: {}, added: {}, timeoutMs: 1000, output: "log" });
    expect(backend.world.execs.map((e) => e.argv)).toEqual([["exit", "0"]]);
  });

  test("handles are tagged fake and carry a pid above 1", async () => {
    const { backend, req } = setup();
    const s = await backend.start(req("api", ["run"]));
    expect(s.handle).toEqual({ kind: "fake", id: expect.any(String), pid: expect.any(Number) });
    expect(s.handle.pid as number).toBeGreaterThan(1);
    await expect(backend.inspect("api", { kind: "process", pid: 5 })).rejects.toThrow("bug: the fake backend was given a process handle");
  });
});
