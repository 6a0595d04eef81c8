// The backend contract: one suite that every Backend, and the fake, must pass. A Rig adapts a backend to it:
// how to make a service that behaves a certain way, how to tell whether its command ran, how to be "another sv".
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Backend, ExecRequest, Handle, Inspection, StartRequest, Started } from "../../src/backends/backend.ts";
import type { Service } from "../../src/config/schema.ts";
import { waitFor } from "../helpers/project.ts";

/** What a service's command does once it runs. Every command records that it ran before anything else. */
export type Behaviour =
  /** Writes `log` (lines, to stdout), then runs until stopped. */
  | { kind: "run"; log?: string[] }
  | { kind: "exit"; code: number; afterMs: number }
  /** Dies of `signal`, sent by nobody but itself. */
  | { kind: "signal"; signal: string; afterMs: number }
  /** Runs until killed: the stop signal does not end it. It records that it ran only once it ignores the signal. */
  | { kind: "ignore-stop" }
  /** Leaves a background child listening on `port`, then (once the child listens) exits with `code`. */
  | { kind: "leave-child"; port: number; code: number };

/** What an exec'd command does. */
export type ExecBehaviour =
  | { kind: "exit"; code: number; stdout?: string; stderr?: string }
  /** Runs far longer than any timeout a test gives it. */
  | { kind: "hang" }
  /** Likewise, but in a child of the command (a shell waiting on a pipeline), which holds its output open. */
  | { kind: "hang-in-child" }
  | { kind: "not-found" };

export interface Rig {
  backend: Backend;
  /** Service `name` whose command behaves as `behaviour`. */
  service(name: string, behaviour: Behaviour): Service;
  execArgv(behaviour: ExecBehaviour): string[];
  /** How many times the command of `unit` has started running. */
  runs(unit: string): number;
  /** What another sv, sharing nothing in memory with this one, sees of the unit. */
  inspectElsewhere(unit: string, handle: Handle): Promise<Inspection>;
  /** start() in an sv that dies right after start resolves, before it can release the unit. */
  startAndDie(req: StartRequest): Promise<Handle>;
  /** Does something listen on `port`? */
  portHeld(port: number): boolean;
  /** Something outside any unit listens on `port` until the returned function is called. */
  occupyPort(port: number): Promise<() => void>;
  freePort(): number;
  /** The host `address()` gives. */
  address: string;
  /**
   * Does a child the unit left behind outlive it until reaped (processes: yes)? A container's processes end
   * with it (the engine tears its namespace down), so there is nothing stray for reap to remove.
   */
  straysOutliveUnit?: boolean;
  /** Does sv rotate its logs (files)? An engine keeps and rotates its own: rotate is then always 0. */
  rotatesLogs?: boolean;
  dispose?(): void | Promise<void>;
}

const STOP_TIMEOUT_MS = 300;
const LONG_MS = 10_000;

/** Register the contract's tests for the backend `name`, with a fresh rig for every test. */
export function backendContract(name: string, makeRig: () => Rig | Promise<Rig>): void {
  describe(`backend contract: ${name}`, () => {
    let rig: Rig;
    let live: [string, Handle][] = [];
    let witnesses = 0;

    afterEach(async () => {
      for (const [unit, handle] of live.splice(0)) await rig.backend.kill(unit, handle).catch(() => {});
      await rig.dispose?.();
    });

    beforeEach(async () => {
      rig = await makeRig();
    });

    const request = (unit: string, behaviour: Behaviour, port?: number): StartRequest => ({ unit, svc: rig.service(unit, behaviour), instance: 0, env: {}, inherited: process.env, port, spec: { hash: "0", type: "simple", backend: rig.backend.kind, stop_signal: "SIGTERM", stop_timeout_ms: STOP_TIMEOUT_MS, port: port ?? null } });

    async function start(unit: string, behaviour: Behaviour, port?: number): Promise<Started> {
      const started = await rig.backend.start(request(unit, behaviour, port));
      live.push([unit, started.handle]);
      return started;
    }

    const inspect = (unit: string, handle: Handle) => rig.backend.inspect(unit, handle);

    /** Wait until the unit has ended; what inspect says then. */
    const ended = (unit: string, handle: Handle) =>
      waitFor(async () => {
        const seen = await inspect(unit, handle);
        return seen.alive ? null : seen;
      }, `${unit} ends`);

    /**
     * Let the backend catch up: start and release a fresh unit and wait until its command runs. Whatever an
     * unreleased unit would have done by now (were its gate broken), it has done: absence is then a finding.
     */
    async function settle(): Promise<void> {
      const unit = `witness-${++witnesses}`;
      const s = await start(unit, { kind: "run" });
      await s.release();
      await waitFor(() => rig.runs(unit) === 1, `${unit} runs`);
    }

    const execRequest = (unit: string, behaviour: ExecBehaviour, over: Partial<ExecRequest> = {}): ExecRequest => ({
      unit,
      svc: rig.service(unit, { kind: "run" }),
      argv: rig.execArgv(behaviour),
      env: { PATH: process.env.PATH },
      added: {},
      timeoutMs: LONG_MS,
      output: "capture",
      ...over,
    });

    describe("start and release", () => {
      test("the command does not run before release; a unit awaiting release is alive to inspect", async () => {
        const s = await start("api", { kind: "run" });
        await settle();
        expect(rig.runs("api")).toBe(0);
        // A concurrent sv must not take a unit between start and release for dead.
        expect((await inspect("api", s.handle)).alive).toBe(true);
        expect((await rig.inspectElsewhere("api", s.handle)).alive).toBe(true);
      });

      test("release runs the command once: alive with a pid, to this sv and to another", async () => {
        const s = await start("api", { kind: "run" });
        if (typeof s.handle.pid === "number") expect(s.handle.pid).toBeGreaterThan(1);
        await s.release();
        await s.release();
        await waitFor(() => rig.runs("api") === 1, "api runs");
        const seen = await inspect("api", s.handle);
        expect(seen.alive).toBe(true);
        expect(seen.pid).toBeGreaterThan(1);
        const elsewhere = await rig.inspectElsewhere("api", s.handle);
        expect(elsewhere.alive).toBe(true);
        expect(elsewhere.pid).toBeGreaterThan(1);
        await settle();
        expect(rig.runs("api")).toBe(1);
      });

      test("start refuses a port something already listens on, naming it, and creates nothing", async () => {
        const port = rig.freePort();
        const free = await rig.occupyPort(port);
        try {
          await expect(start("web", { kind: "run" }, port)).rejects.toThrow(new RegExp(`^web: port ${port} is already in use`));
        } finally {
          free();
        }
        await settle();
        expect(rig.runs("web")).toBe(0);
      });
    });

    describe("how a unit ended", () => {
      test.each([0, 3])("exit code %i is reported once it has ended, to this sv and to another", async (code) => {
        const s = await start("job", { kind: "exit", code, afterMs: 50 });
        await s.release();
        const seen = await ended("job", s.handle);
        expect(seen.exit).toEqual({ code, signal: null });
        expect(seen.unborn).toBeFalsy();
        expect(await rig.inspectElsewhere("job", s.handle)).toMatchObject({ alive: false, exit: { code, signal: null } });
        if (s.exited) expect(await s.exited).toEqual({ code, signal: null });
      });

      test("a death by signal is reported with the signal's name, to this sv and to another", async () => {
        const s = await start("crash", { kind: "signal", signal: "SIGUSR1", afterMs: 50 });
        await s.release();
        const seen = await ended("crash", s.handle);
        expect(seen.exit).toEqual({ code: null, signal: "SIGUSR1" });
        expect(await rig.inspectElsewhere("crash", s.handle)).toMatchObject({ alive: false, exit: { code: null, signal: "SIGUSR1" } });
        if (s.exited) expect(await s.exited).toEqual({ code: null, signal: "SIGUSR1" });
      });
    });

    describe("stop and kill", () => {
      test("stop ends a running unit with its stop signal, gracefully", async () => {
        const s = await start("api", { kind: "run" });
        await s.release();
        await waitFor(() => rig.runs("api") === 1, "api runs");
        const outcome = await rig.backend.stop("api", s.handle, { signal: "SIGTERM", timeoutMs: LONG_MS });
        expect(outcome).toMatchObject({ forced: false, wasRunning: true });
        expect(outcome.durationMs).toBeLessThan(LONG_MS);
        const seen = await inspect("api", s.handle);
        expect(seen).toMatchObject({ alive: false, exit: { code: null, signal: "SIGTERM" } });
        expect(await rig.inspectElsewhere("api", s.handle)).toMatchObject({ alive: false, exit: { code: null, signal: "SIGTERM" } });
      });

      test("stop kills a unit that ignores the stop signal once the timeout has passed", async () => {
        const s = await start("stubborn", { kind: "ignore-stop" });
        await s.release();
        await waitFor(() => rig.runs("stubborn") === 1, "stubborn runs");
        const outcome = await rig.backend.stop("stubborn", s.handle, { signal: "SIGTERM", timeoutMs: STOP_TIMEOUT_MS });
        expect(outcome).toMatchObject({ forced: true, wasRunning: true });
        expect(outcome.durationMs).toBeGreaterThanOrEqual(STOP_TIMEOUT_MS - 10);
        expect(outcome.durationMs).toBeLessThan(LONG_MS);
        expect((await inspect("stubborn", s.handle)).alive).toBe(false);
      });

      test("stop of a unit that has ended says it was not running", async () => {
        const s = await start("job", { kind: "exit", code: 0, afterMs: 0 });
        await s.release();
        await ended("job", s.handle);
        expect(await rig.backend.stop("job", s.handle, { signal: "SIGTERM", timeoutMs: STOP_TIMEOUT_MS })).toMatchObject({ forced: false, wasRunning: false });
      });

      test("kill ends a unit at once, even one that ignores the stop signal", async () => {
        const s = await start("stubborn", { kind: "ignore-stop" });
        await s.release();
        await waitFor(() => rig.runs("stubborn") === 1, "stubborn runs");
        const t0 = performance.now();
        await rig.backend.kill("stubborn", s.handle);
        expect(performance.now() - t0).toBeLessThan(STOP_TIMEOUT_MS * 10);
        expect((await inspect("stubborn", s.handle)).alive).toBe(false);
        expect((await rig.inspectElsewhere("stubborn", s.handle)).alive).toBe(false);
      });

      test("reap removes what an ended unit left behind: a stray child holding its port, and its exit record", async () => {
        const port = rig.freePort();
        const s = await start("web", { kind: "leave-child", port, code: 0 });
        await s.release();
        const seen = await ended("web", s.handle);
        expect(seen.exit).toEqual({ code: 0, signal: null });
        if (rig.straysOutliveUnit !== false) expect(rig.portHeld(port)).toBe(true);
        await rig.backend.reap("web", s.handle);
        expect(rig.portHeld(port)).toBe(false);
        const after = await inspect("web", s.handle);
        expect(after.alive).toBe(false);
        expect(after.exit).toBeUndefined();
        expect(after.unborn).toBeFalsy();
      });
    });

    describe("the gate", () => {
      test("abort before release, at once: the command never runs, and the unit is unborn", async () => {
        const s = await start("api", { kind: "run" });
        const t0 = performance.now();
        await s.abort();
        expect(performance.now() - t0).toBeLessThan(STOP_TIMEOUT_MS);
        await s.release();
        const seen = await ended("api", s.handle);
        await settle();
        expect(rig.runs("api")).toBe(0);
        expect(seen).toMatchObject({ alive: false, unborn: true, pid: null });
        expect(await rig.inspectElsewhere("api", s.handle)).toMatchObject({ alive: false, unborn: true });
      });

      test("a stop before release, even right after start: the command never runs, and the unit is unborn", async () => {
        const s = await start("api", { kind: "run" });
        const outcome = await rig.backend.stop("api", s.handle, { signal: "SIGTERM", timeoutMs: LONG_MS });
        expect(outcome).toMatchObject({ forced: false, wasRunning: true });
        await s.release();
        const seen = await ended("api", s.handle);
        expect(seen).toMatchObject({ alive: false, unborn: true, pid: null });
        expect(await rig.inspectElsewhere("api", s.handle)).toMatchObject({ alive: false, unborn: true });
        await settle();
        expect(rig.runs("api")).toBe(0);
      });

      test("when the sv that started it dies before release, the command never runs and the unit is unborn", async () => {
        const req = request("orphan", { kind: "run" });
        const handle = await rig.startAndDie(req);
        live.push(["orphan", handle]);
        const seen = await ended("orphan", handle);
        expect(seen).toMatchObject({ alive: false, unborn: true, pid: null });
        expect(await rig.inspectElsewhere("orphan", handle)).toMatchObject({ alive: false, unborn: true });
        await settle();
        expect(rig.runs("orphan")).toBe(0);
      });
    });

    describe("exec", () => {
      test("returns the exit code and, with output capture, what it wrote to stderr (not stdout)", async () => {
        const r = await rig.backend.exec(execRequest("api", { kind: "exit", code: 3, stdout: "out", stderr: "boom" }));
        expect(r).toEqual({ code: 3, signal: null, timedOut: false, stderr: "boom\n" });
        expect(await rig.backend.logs.tail("api", 10)).toEqual([]);
      });

      test("with output log, stdout and stderr go to the unit's log", async () => {
        const r = await rig.backend.exec(execRequest("api", { kind: "exit", code: 0, stdout: "hello", stderr: "oops" }, { output: "log" }));
        expect(r).toEqual({ code: 0, signal: null, timedOut: false, stderr: "" });
        expect(await rig.backend.logs.exists("api")).toBe(true);
        expect(await rig.backend.logs.tail("api", 10)).toEqual(["hello", "oops"]);
      });

      test("a command past its timeout is killed and says it timed out", async () => {
        const t0 = performance.now();
        const r = await rig.backend.exec(execRequest("api", { kind: "hang" }, { timeoutMs: 200 }));
        expect(r).toMatchObject({ code: null, timedOut: true });
        expect(r.error).toBeUndefined();
        expect(performance.now() - t0).toBeLessThan(LONG_MS / 2);
      });

      test.each(["capture", "log"] as const)("with output %s, the timeout bounds exec even when a child of the command hangs", async (output) => {
        const t0 = performance.now();
        const r = await rig.backend.exec(execRequest("api", { kind: "hang-in-child" }, { timeoutMs: 200, output }));
        expect(r).toMatchObject({ code: null, timedOut: true });
        expect(performance.now() - t0).toBeLessThan(2000);
      });

      test("a command that does not exist says so", async () => {
        const r = await rig.backend.exec(execRequest("api", { kind: "not-found" }));
        expect(r).toMatchObject({ code: null, signal: null, timedOut: false, error: "command not found" });
      });
    });

    describe("logs and address", () => {
      test("tail returns a unit's last lines; exists tells a unit with a log from one without", async () => {
        expect(await rig.backend.logs.exists("api")).toBe(false);
        expect(await rig.backend.logs.tail("api", 5)).toEqual([]);
        const s = await start("api", { kind: "run", log: ["one", "two", "three"] });
        await s.release();
        await waitFor(async () => (await rig.backend.logs.tail("api", 5)).length === 3, "api logs three lines");
        expect(await rig.backend.logs.tail("api", 5)).toEqual(["one", "two", "three"]);
        expect(await rig.backend.logs.tail("api", 2)).toEqual(["two", "three"]);
        expect(await rig.backend.logs.exists("api")).toBe(true);
        expect(await rig.backend.logs.exists("other")).toBe(false);
        const file = rig.backend.logs.file("api");
        if (file !== null) expect(await Bun.file(file).text()).toBe("one\ntwo\nthree\n");
      });

      test("rotate moves an outgrown log aside, and tail still reads across it", async () => {
        const s = await start("api", { kind: "run", log: ["one", "two", "three"] });
        await s.release();
        await waitFor(async () => (await rig.backend.logs.tail("api", 5)).length === 3, "api logs three lines");
        expect(await rig.backend.logs.rotate("api", 1 << 20, 2)).toBe(0);
        if (rig.rotatesLogs === false) return expect(await rig.backend.logs.rotate("api", 1, 2)).toBe(0);
        expect(await rig.backend.logs.rotate("api", 1, 2)).toBeGreaterThan(0);
        expect(await rig.backend.logs.tail("api", 5)).toEqual(["one", "two", "three"]);
        expect(await rig.backend.logs.exists("api")).toBe(true);
        expect(await rig.backend.logs.rotate("never", 1, 2)).toBe(0);
      });

      test("address is where probes and dependents reach a unit", async () => {
        expect(rig.backend.address(rig.service("api", { kind: "run" }), 0)).toEqual({ host: rig.address });
      });
    });
  });
}
