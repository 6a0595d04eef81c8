// What sv names and labels in the engine: `<project>-<unit>` containers, the project's network and
// volumes, and labels under a prefix sv owns, by which it finds a project's containers again.
import type { Project } from "../../config/schema.ts";
import type { UnitSpec } from "../../store/unit.ts";

export const LABEL = {
  project: "dev.sv.project",
  root: "dev.sv.root",
  service: "dev.sv.service",
  unit: "dev.sv.unit",
  hash: "dev.sv.hash",
  hashVersion: "dev.sv.hash-version",
  /** The unit's recorded spec (JSON), so that a store that was deleted can be rebuilt from the engine. */
  spec: "dev.sv.spec",
  /** The sv that created it (`pid:ticks`): while that sv lives, a created container awaits its release. */
  creator: "dev.sv.creator",
} as const;

/** Bumped when the definition hash changes meaning: a container of another version is recreated. */
export const HASH_VERSION = "1";

export const containerName = (project: Project, unit: string) => `${project.name}-${unit}`;
export const networkName = (project: Project) => `${project.name}-sv`;
/** A named volume of the project, as compose names them: `<project>_<name>`. */
export const volumeName = (project: Project, name: string) => `${project.name}_${name}`;

/** The labels of what sv creates for the project (networks, volumes). */
export const projectLabels = (project: Project): Record<string, string> => ({ [LABEL.project]: project.name, [LABEL.root]: project.root });

/** The labels of a unit's container. */
export function unitLabels(project: Project, service: string, unit: string, spec: UnitSpec): Record<string, string> {
  return { ...projectLabels(project), [LABEL.service]: service, [LABEL.unit]: unit, [LABEL.hash]: spec.hash, [LABEL.hashVersion]: HASH_VERSION, [LABEL.spec]: JSON.stringify(spec) };
}

/** The `filters` query that lists the project's objects. */
export const projectFilter = (project: Project) => JSON.stringify({ label: [`${LABEL.project}=${project.name}`] });

/** A recorded spec read back from a container's labels (null when it is missing or not ours). */
export function specFromLabels(labels: Record<string, string> | null | undefined): UnitSpec | null {
  try {
    const spec = JSON.parse(labels?.[LABEL.spec] ?? "null") as UnitSpec | null;
    return spec && typeof spec.hash === "string" ? spec : null;
  } catch {
    return null;
  }
}
