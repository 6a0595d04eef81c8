// Another sv process for the local backend's contract run (see runSecondSv in second-sv.ts).
import { createLocalBackend } from "../../src/backends/local/index.ts";
import { projectPaths } from "../../src/paths.ts";
import { runSecondSv } from "./second-sv.ts";

await runSecondSv((root) => createLocalBackend(projectPaths(root)), process.argv.slice(2));
