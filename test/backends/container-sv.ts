// Another sv process for the container backend's contract run, sharing nothing in memory with the test:
//   start PROJECT REQUEST   create a unit's container, print its handle, and wait (unreleased) to be killed
// PROJECT is the JSON of the test's Project (root, name, dockerSocket).
import { createContainerBackend } from "../../src/backends/container/index.ts";
import { projectPaths } from "../../src/paths.ts";

const [mode, projectJson, request] = process.argv.slice(2);
const project = JSON.parse(projectJson!);
const backend = createContainerBackend(projectPaths(project.root), { ...project, services: new Map() });
if (mode === "start") {
  const started = await backend.start(JSON.parse(request!));
  process.stdout.write(`${JSON.stringify(started.handle)}\n`);
  setTimeout(() => process.exit(1), 30_000);
} else {
  throw new Error(`container-sv: unknown mode ${mode}`);
}
