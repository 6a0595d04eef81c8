// The backend contract against the local backend: real processes, real files, a real second sv process.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Handle, Inspection, StartRequest } from "../../src/backends/backend.ts";
import { createLocalBackend } from "../../src/backends/local/index.ts";
import { projectPaths } from "../../src/paths.ts";
import { isPortFree } from "../../src/runtime/ports.ts";
import { BUN, fixture, freePort, killAfterTest, tempProject } from "../helpers/project.ts";
import { backendContract, type Behaviour, type ExecBehaviour, type Rig } from "./contract.ts";
import { testService } from "./service.ts";

const SECOND_SV = join(import.meta.dir, "local-sv.ts");
const SECOND_SV_TIMEOUT_MS = 15_000;

/** Quote for /bin/sh. */
const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The shell command of a behaviour; `mark` records that it ran. */
function shellCommand(b: Behaviour, mark: string, scratch: string): string {
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
    case "leave-child": {
      const out = shq(`${scratch}.child`);
      return `${mark}; ${shq(BUN)} ${shq(fixture("tcp-server.ts"))} ${b.port} >${out} & until grep -q ready ${out} 2>/dev/null; do sleep 0.01; done; exit ${b.code}`;
    }
  }
}

function execArgv(b: ExecBehaviour): string[] {
  switch (b.kind) {
    case "exit": {
      const out = b.stdout === undefined ? [] : [`echo ${shq(b.stdout)}`];
      const err = b.stderr === undefined ? [] : [`echo ${shq(b.stderr)} >&2`];
      return ["/bin/sh", "-c", [...out, ...err, `exit ${b.code}`].join("; ")];
    }
    case "hang":
      return ["sleep", "30"];
    case "hang-in-child":
      return ["/bin/sh", "-c", "sleep 5; true"];
    case "not-found":
      return ["/nonexistent/sv-contract-command"];
  }
}

/** Run the second sv; its stdout's first line, parsed. `onLine` sees the process once that line is in. */
async function secondSv<T>(args: string[], onLine: (proc: Bun.Subprocess) => void = () => {}): Promise<T> {
  const proc = Bun.spawn([BUN, SECOND_SV, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: SECOND_SV_TIMEOUT_MS });
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

function localRig(): Rig {
  const p = tempProject();
  const paths = projectPaths(p.root);
  const markers = join(p.root, "markers");
  mkdirSync(markers);
  const marker = (unit: string) => join(markers, unit);
  return {
    backend: createLocalBackend(paths),
    service: (name, b) => testService(name, shellCommand(b, `echo ran >>${shq(marker(name))}`, marker(name)), p.root),
    execArgv,
    runs(unit) {
      try {
        return readFileSync(marker(unit), "utf8").split("\n").filter(Boolean).length;
      } catch {
        return 0;
      }
    },
    inspectElsewhere: (unit, handle) => secondSv<Inspection>(["inspect", p.root, unit, JSON.stringify(handle)]),
    async startAndDie(req: StartRequest) {
      let killed: Promise<unknown> = Promise.resolve();
      const handle = await secondSv<Handle>(["start", p.root, JSON.stringify(req)], (proc) => {
        proc.kill("SIGKILL");
        killed = proc.exited;
      });
      await killed;
      return handle;
    },
    portHeld: (port) => !isPortFree(port),
    async occupyPort(port) {
      const server = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      return () => server.stop(true);
    },
    freePort,
    address: "127.0.0.1",
  };
}

backendContract("local", localRig);
