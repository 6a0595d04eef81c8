// Another sv process for the local backend's contract run, sharing nothing in memory with the test:
//   start ROOT REQUEST        start a unit, print its handle, and wait (unreleased) to be killed
//   inspect ROOT UNIT HANDLE  print what a fresh local backend sees of the unit
import { createLocalBackend } from "../../src/backends/local/index.ts";
import { projectPaths } from "../../src/paths.ts";

const [mode, root, first, second] = process.argv.slice(2);
const backend = createLocalBackend(projectPaths(root!));
if (mode === "start") {
  const started = await backend.start(JSON.parse(first!));
  process.stdout.write(`${JSON.stringify(started.handle)}\n`);
  // Stay alive, holding the gate shut, until the test kills this process (bounded, should it never).
  setTimeout(() => process.exit(1), 30_000);
} else if (mode === "inspect") {
  process.stdout.write(`${JSON.stringify(await backend.inspect(first!, JSON.parse(second!)))}\n`);
} else {
  throw new Error(`local-sv: unknown mode ${mode}`);
}
