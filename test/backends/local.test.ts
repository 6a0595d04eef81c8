// The backend contract against the local backend: real processes, real files, a real second sv process.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Handle, Inspection, StartRequest } from "../../src/backends/backend.ts";
import { createLocalBackend } from "../../src/backends/local/index.ts";
import { projectPaths } from "../../src/paths.ts";
import { freePort, tempProject } from "../helpers/project.ts";
import { backendContract, type Rig } from "./contract.ts";
import { execArgv, loopbackPorts, secondSv, shellCommand, shq, startThenKill } from "./rig-kit.ts";
import { testService } from "./service.ts";

const SECOND_SV = join(import.meta.dir, "local-sv.ts");

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
    inspectElsewhere: (unit, handle) => secondSv<Inspection>(SECOND_SV, ["inspect", p.root, unit, JSON.stringify(handle)]),
    startAndDie: (req: StartRequest) => startThenKill<Handle>(SECOND_SV, ["start", p.root, JSON.stringify(req)]),
    ...loopbackPorts,
    freePort,
    address: "127.0.0.1",
  };
}

backendContract("local", localRig);
