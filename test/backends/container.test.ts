// The backend contract against the container backend, on both real engines: podman's Docker API and
// Debian's dockerd, each started by the test with its own storage. A container's main process is PID 1
// of its namespace, which the kernel shields from signals it does not handle, so every behaviour runs
// under a small shell "init" that passes the stop signal on and exits as its child did (128+n for a
// death by signal, as tini and docker-init do): the engine reports that as the signal.
import { afterAll, beforeAll, describe } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Handle, StartRequest } from "../../src/backends/backend.ts";
import { createContainerBackend } from "../../src/backends/container/index.ts";
import type { Project, Service } from "../../src/config/schema.ts";
import { projectPaths } from "../../src/paths.ts";
import { ENGINE_KINDS, type Engine, TEST_IMAGE, startEngine } from "../helpers/engines.ts";
import { freePort, tempProject } from "../helpers/project.ts";
import { backendContract, type Behaviour, type Rig } from "./contract.ts";
import { execArgv, loopbackPorts, shellCommand, shq, startThenKill } from "./rig-kit.ts";
import { testService } from "./service.ts";

const SECOND_SV = join(import.meta.dir, "container-sv.ts");
const MARK = (name: string) => `echo ran >>/marks/${name}`;

/** The behaviour's own script, run as the child of the init shell; a left child is a busybox httpd on the host's network. */
const body = (b: Behaviour, name: string) =>
  shellCommand(b, MARK(name), "", (port) => `httpd -p 127.0.0.1:${port} -h /www; until wget -q -O /dev/null http://127.0.0.1:${port}/; do sleep 0.01; done`);

/** PID 1: start the behaviour, pass TERM and INT on to it, exit with its status. */
function init(script: string): string[] {
  return ["/bin/sh", "-c", `sh -c ${shq(script)} & c=$!; trap 'kill -TERM $c 2>/dev/null' TERM; trap 'kill -INT $c 2>/dev/null' INT; wait $c; s=$?; while kill -0 $c 2>/dev/null; do wait $c; s=$?; done; exit $s`];
}

function projectOf(root: string, engine: Engine): Project {
  return { root, stateDir: join(root, ".sv"), maxParallel: 8, defaultTimeoutMs: 60_000, services: new Map(), api: { tokens: [], allowInsecure: false, secretEnv: [] }, name: `c${Math.random().toString(36).slice(2, 8)}`, dockerSocket: engine.socket, plugins: [], hosts: new Map(), networks: new Map() };
}

function containerRig(engine: Engine): Rig {
  const p = tempProject();
  const marks = join(p.root, "marks");
  mkdirSync(marks);
  const project = projectOf(p.root, engine);
  const paths = projectPaths(p.root);
  const fresh = () => createContainerBackend(paths, project);
  const service = (name: string, b: Behaviour): Service =>
    testService(name, [], "", {
      // Host networking: the port a behaviour listens on is the host's, as for a process.
      container: { image: TEST_IMAGE, command: init(body(b, name)), ports: [], volumes: [{ kind: "bind", source: marks, target: "/marks", readOnly: false }], pull: "never", networkMode: "host" },
      stopTimeoutMs: 300,
    });
  return {
    backend: fresh(),
    service,
    execArgv,
    runs(unit) {
      try {
        return readFileSync(join(marks, unit), "utf8").split("\n").filter(Boolean).length;
      } catch {
        return 0;
      }
    },
    // Another sv shares nothing in memory with this one: a backend of its own, asking the engine afresh.
    inspectElsewhere: (unit, handle) => fresh().inspect(unit, handle),
    // Another sv creates the container and is killed before releasing it: nobody ever starts it.
    startAndDie: (req: StartRequest) => startThenKill<Handle>(SECOND_SV, ["start", JSON.stringify({ ...project, services: undefined }), JSON.stringify(req)]),
    ...loopbackPorts,
    freePort,
    address: "127.0.0.1",
    straysOutliveUnit: false,
    rotatesLogs: false,
    async dispose() {
      const left = await engine.leftovers(`dev.sv.project=${project.name}`);
      for (const id of left.containers) await engine.api("DELETE", `/containers/${id}?force=1`).catch(() => {});
    },
  };
}

for (const kind of ENGINE_KINDS) {
  describe(kind, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await startEngine(kind);
    }, 120_000);
    afterAll(async () => {
      await engine?.stop();
    }, 60_000);
    backendContract(`container (${kind})`, () => containerRig(engine));
  });
}
