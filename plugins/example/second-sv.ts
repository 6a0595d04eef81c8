// Another sv process for the nice plugin's contract run, sharing nothing in memory with the test:
//   start ROOT REQUEST        start a unit, print its handle, and wait (unreleased) to be killed
//   inspect ROOT UNIT HANDLE  print what a fresh nice backend sees of the unit
import { createLocalBackend } from "../../src/backends/local/index.ts";
import type { Project } from "../../src/config/schema.ts";
import { SvError } from "../../src/errors.ts";
import { projectPaths } from "../../src/paths.ts";
import plugin from "./index.ts";

const [mode, root, first, second] = process.argv.slice(2);
const paths = projectPaths(root!);
const backend = plugin.create({ paths, project: { root: root!, plugins: [] } as unknown as Project, local: createLocalBackend(paths), SvError });
if (mode === "start") {
  const started = await backend.start(JSON.parse(first!));
  process.stdout.write(`${JSON.stringify(started.handle)}\n`);
  // Stay alive, holding the gate shut, until the test kills this process (bounded, should it never).
  setTimeout(() => process.exit(1), 30_000);
} else if (mode === "inspect") {
  process.stdout.write(`${JSON.stringify(await backend.inspect(first!, JSON.parse(second!)))}\n`);
} else {
  throw new Error(`second-sv: unknown mode ${mode}`);
}
