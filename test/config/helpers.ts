// Helpers for the config tests: load a temp project and get its problems, or the Project.
import { loadProject, type LoadOptions } from "../../src/config/load.ts";
import type { Env } from "../../src/config/interpolate.ts";
import type { Project } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";
import { tempProject } from "../helpers/project.ts";

/** The formatted problems of a project made of `files` ([] when it loads). */
export async function problemsOf(files: Record<string, string>, env: Env = {}, opts: LoadOptions = {}): Promise<string[]> {
  const p = tempProject(files);
  try {
    await loadProject(p.root, env, opts);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

/** The problems of a project holding only services/api.yml with `yaml`. */
export const apiProblems = (yaml: string, env: Env = {}) => problemsOf({ "services/api.yml": yaml }, env);

/** The loaded project made of `files`; fails the test with the problems when it does not load. */
export async function load(files: Record<string, string>, env: Env = {}): Promise<Project> {
  const p = tempProject(files);
  try {
    return await loadProject(p.root, env);
  } catch (e) {
    if (e instanceof ConfigError) throw new Error(`unexpected config problems:\n${e.problems.join("\n")}`);
    throw e;
  }
}
