// Pieces every shell-driven contract rig shares (local, container, the example plugin): behaviours as
// shell commands, exec'd commands, a second sv process, a port held by the test. A plugin author's rig
// for a process-like backend is mostly these.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Backend, Handle, Inspection } from "../../src/backends/backend.ts";
import type { Service } from "../../src/config/schema.ts";
import { isPortFree } from "../../src/runtime/ports.ts";
import { BUN, fixture, freePort, killAfterTest, tempProject } from "../helpers/project.ts";
import type { Behaviour, ExecBehaviour, Rig } from "./contract.ts";
import { testService } from "./service.ts";

/** Quote for /bin/sh. */
export const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A child that listens on `port` in the background until it is killed, then `exit code` (default: a Bun fixture). */
export type LeaveChild = (port: number, scratch: string) => string;

const bunChild: LeaveChild = (port, scratch) => {
  const out = shq(`${scratch}.child`);
  return `${shq(BUN)} ${shq(fixture("tcp-server.ts"))} ${port} >${out} & until grep -q ready ${out} 2>/dev/null; do sleep 0.01; done`;
};

/** The shell command of a behaviour; `mark` records that it ran. */
export function shellCommand(b: Behaviour, mark: string, scratch: string, leaveChild: LeaveChild = bunChild): string {
  const wait = (ms: number) => `sleep ${ms / 1000}`;
  switch (b.kind) {
    case "run":
      return [mark, ...(b.log ?? []).map((l) => `echo ${shq(l)}`), "exec sleep 1000"].join("; ");
    case "exit":
      return `${mark}; ${wait(b.afterMs)}; exit ${b.code}`;
    case "signal":
      return `${mark}; ${wait(b.afterMs)}; kill -${b.signal.replace(/^SIG/, "")} $$`;
    case "ignore-stop":
      return `trap '' TERM INT; ${mark}; exec sleep 1000`;
    case "leave-child":
      return `${mark}; ${leaveChild(b.port, scratch)}; exit ${b.code}`;
  }
}

/** The argv of an exec'd command (absolute paths: a container's image may have no PATH). */
export function execArgv(b: ExecBehaviour): string[] {
  switch (b.kind) {
    case "exit": {
      const out = b.stdout === undefined ? [] : [`echo ${shq(b.stdout)}`];
      const err = b.stderr === undefined ? [] : [`echo ${shq(b.stderr)} >&2`];
      return ["/bin/sh", "-c", [...out, ...err, `exit ${b.code}`].join("; ")];
    }
    case "hang":
      return ["/bin/sleep", "30"];
    case "hang-in-child":
      return ["/bin/sh", "-c", "sleep 5; true"];
    case "not-found":
      return ["/nonexistent/sv-contract-command"];
  }
}

/** Run a second sv (a script); its stdout's first line, parsed. `onLine` sees the process once that line is in. */
export async function secondSv<T>(script: string, args: string[], onLine: (proc: Bun.Subprocess) => void = () => {}, timeoutMs = 15_000): Promise<T> {
  const proc = Bun.spawn([BUN, script, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
  killAfterTest(proc.pid);
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`second sv ${args[0]} printed no line (exit ${await proc.exited}): ${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  onLine(proc);
  return JSON.parse(text.slice(0, text.indexOf("\n"))) as T;
}

/** A second sv that starts a unit and is SIGKILLed before it can release it: the handle it printed. */
export async function startThenKill<T>(script: string, args: string[]): Promise<T> {
  let killed: Promise<unknown> = Promise.resolve();
  const handle = await secondSv<T>(script, args, (proc) => {
    proc.kill("SIGKILL");
    killed = proc.exited;
  });
  await killed;
  return handle;
}

/** The rig's ports on this machine's loopback: held or not, and held by the test. */
export const loopbackPorts: Pick<Rig, "portHeld" | "occupyPort"> = {
  portHeld: (port) => !isPortFree(port),
  async occupyPort(port) {
    const server = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    return () => server.stop(true);
  },
};

/**
 * A whole rig for a backend of processes on this machine: each behaviour a shell command in a temp
 * project (`over` adds service keys), each run marked in a file, "another sv" the script `secondSvScript`
 * (a runSecondSv of the same backend, second-sv.ts).
 */
export function processRig(backend: (root: string) => Backend, secondSvScript: string, over: Partial<Service> = {}): Rig {
  const p = tempProject();
  const markers = join(p.root, "markers");
  mkdirSync(markers);
  const marker = (unit: string) => join(markers, unit);
  return {
    backend: backend(p.root),
    service: (name, b) => testService(name, shellCommand(b, `echo ran >>${shq(marker(name))}`, marker(name)), p.root, over),
    execArgv,
    runs(unit) {
      try {
        return readFileSync(marker(unit), "utf8").split("\n").filter(Boolean).length;
      } catch {
        return 0;
      }
    },
    inspectElsewhere: (unit, handle) => secondSv<Inspection>(secondSvScript, ["inspect", p.root, unit, JSON.stringify(handle)]),
    startAndDie: (req) => startThenKill<Handle>(secondSvScript, ["start", p.root, JSON.stringify(req)]),
    ...loopbackPorts,
    freePort,
    address: "127.0.0.1",
  };
}
