// Another sv process for the nice plugin's contract run (see runSecondSv in test/backends/second-sv.ts).
import { createLocalBackend } from "../../src/backends/local/index.ts";
import type { Project } from "../../src/config/schema.ts";
import { SvError } from "../../src/errors.ts";
import { projectPaths } from "../../src/paths.ts";
import { runSecondSv } from "../../test/backends/second-sv.ts";
import plugin from "./index.ts";

await runSecondSv((root) => {
  const paths = projectPaths(root);
  return plugin.create({ paths, project: { root, plugins: [] } as unknown as Project, local: createLocalBackend(paths), SvError });
}, process.argv.slice(2));
