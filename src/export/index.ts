// sv export: a loaded project as another engine's configuration, and the lines that say what did not map.
import { UsageError, didYouMean } from "../errors.ts";
import type { Project } from "../config/schema.ts";
import { exportCompose } from "./compose.ts";
import { DEFAULT_WAIT_IMAGE, exportKubernetes } from "./kubernetes.ts";
import type { ExportResult, ServiceReport, Target } from "./report.ts";
import { exportSystemd } from "./systemd.ts";

export type { ExportResult, ServiceReport, Target } from "./report.ts";
export { writeFiles } from "./write.ts";
export { DEFAULT_WAIT_IMAGE };

export const TARGETS: Target[] = ["systemd", "compose", "kubernetes"];
const ALIASES: Record<string, Target> = { k8s: "kubernetes", kube: "kubernetes", "docker-compose": "compose", swarm: "compose" };

/** The target named on the command line; anything else is a usage error with a suggestion. */
export function targetOf(word: string | undefined): Target {
  if (word === undefined) throw new UsageError("sv export needs a target: systemd, compose or kubernetes", "e.g. sv export systemd --out ./units");
  const t = (TARGETS as string[]).includes(word) ? (word as Target) : ALIASES[word];
  if (t) return t;
  const guess = didYouMean(word, [...TARGETS, ...Object.keys(ALIASES)]);
  throw new UsageError(`unknown export target "${word}"`, guess ? `did you mean "${ALIASES[guess] ?? guess}"?` : "the targets are systemd, compose and kubernetes");
}

export interface ExportOptions {
  image?: string;
  waitImage?: string;
  swarm?: boolean;
}

export function exportProject(project: Project, target: Target, names: string[], opts: ExportOptions): ExportResult {
  if (opts.swarm && target !== "compose") throw new UsageError("--swarm is an option of sv export compose", "e.g. sv export compose --swarm");
  if (opts.waitImage !== undefined && target !== "kubernetes") throw new UsageError("--wait-image is an option of sv export kubernetes", "its initContainers wait for dependencies");
  if (opts.image !== undefined && target === "systemd") throw new UsageError("--image is for compose and kubernetes", "systemd runs process services directly");
  for (const [flag, value] of [["--image", opts.image], ["--wait-image", opts.waitImage]] as const)
    if (value !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._\/:@-]*$/.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value)} is not an image reference`, "e.g. --image docker.io/library/debian:12");
  const result = target === "systemd" ? exportSystemd(project, names) : target === "compose" ? exportCompose(project, names, { image: opts.image, swarm: opts.swarm }) : exportKubernetes(project, names, { image: opts.image, waitImage: opts.waitImage });
  const none = result.services.length > 0 && result.services.every((s) => !s.exported);
  if (none) {
    const why = result.services[0]!.unmapped[0]!;
    const needImage = target !== "systemd" && result.services.some((s) => s.unmapped.some((n) => n.key === "command"));
    throw new UsageError(`no service can be exported to ${target}: ${result.services[0]!.name}: ${why.message.split(":")[0]}${result.services.length > 1 ? ` (and ${result.services.length - 1} more)` : ""}`, needImage ? `pass --image IMG, the base image process services run in, e.g. sv export ${target} --image docker.io/library/debian:12` : "sv list shows where each service runs");
  }
  return result;
}

/** The lines about one service: what it became, then each key not mapped and each one mapped differently. */
export function reportLines(r: ServiceReport): string[] {
  const head = r.exported ? `${r.name}: ${r.as.join(", ")}${r.pulledIn ? " (a dependency of a named service)" : ""}` : `${r.name}: not exported`;
  return [head, ...r.unmapped.map((n) => `  not mapped: ${n.key}: ${n.message}`), ...r.changed.map((n) => `  changed: ${n.key}: ${n.message}`)];
}

/** Every file in one document for stdout: YAML documents joined by ---, systemd units each under a comment naming it. */
export function oneDocument(result: ExportResult): string {
  if (result.target === "compose") return result.files.map((f) => f.text).join("");
  if (result.target === "kubernetes") return result.files.map((f) => `# ${f.name}\n${f.text}`).join("---\n");
  return result.files.map((f) => `# ==> ${f.name} <==\n${f.text}`).join("\n");
}
