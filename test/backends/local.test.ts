// The backend contract against the local backend: real processes, real files, a real second sv process.
import { join } from "node:path";
import { createLocalBackend } from "../../src/backends/local/index.ts";
import { projectPaths } from "../../src/paths.ts";
import { backendContract } from "./contract.ts";
import { processRig } from "./rig-kit.ts";

const SECOND_SV = join(import.meta.dir, "local-sv.ts");

backendContract("local", () => processRig((root) => createLocalBackend(projectPaths(root)), SECOND_SV));
