// Another sv process for the ssh backend's contract run, sharing nothing in memory with the test (only the
// state dir, and so the host's ControlMaster socket):
//   start PROJECT REQUEST   prepare a unit on its host, print its handle, and wait (unreleased) to be killed
// PROJECT is the JSON of the test's Project with `hosts` as a list of [name, HostSpec] entries (a Map does not survive JSON).
import { createSshBackend } from "../../src/backends/ssh/index.ts";
import { projectPaths } from "../../src/paths.ts";

const [mode, projectJson, request] = process.argv.slice(2);
const project = JSON.parse(projectJson!);
const backend = createSshBackend(projectPaths(project.root), { ...project, services: new Map(), hosts: new Map(project.hosts), networks: new Map(project.networks ?? []) });
if (mode === "start") {
  const started = await backend.start(JSON.parse(request!));
  process.stdout.write(`${JSON.stringify(started.handle)}\n`);
  setTimeout(() => process.exit(1), 30_000);
} else {
  throw new Error(`ssh-sv: unknown mode ${mode}`);
}
