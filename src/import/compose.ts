// docker compose -> sv: every service is a container (image:, or the image `docker compose build` tags for build:).
import { basename } from "node:path";
import { UsageError } from "../errors.ts";
import type { ImportContext, Imported } from "./context.ts";
import { mapComposeService, type ComposeScope } from "./compose-service.ts";
import { fromInterpolated } from "./dollars.ts";
import { NameMap } from "./names.ts";
import { isRecord, keyOf } from "./values.ts";
import { type Seg, parseYaml } from "./yaml-source.ts";

/** Top-level keys sv has no place for, and why. `version` is obsolete in compose itself and is skipped silently. */
const TOP_LEVEL_WHY: Record<string, string> = {
  name: "the project name is sv.yml's name: (set it there if you want it)",
  networks: "sv puts every container of a project on one project network, where they reach each other by service name",
  secrets: "sv has no secrets: mount the file with volumes:, or pass it in env_file:",
  configs: "sv has no configs: mount the file with volumes:",
  include: "not followed: import each included compose file on its own",
};

/** A compose project's name, as compose derives it: `name:`, else the directory's name (lower-cased, [a-z0-9_-]). */
function projectName(top: Record<string, unknown>, dir: string): string {
  const raw = typeof top.name === "string" ? top.name : basename(dir);
  return raw.toLowerCase().replace(/[^a-z0-9_-]/g, "").replace(/^[^a-z0-9]+/, "") || "project";
}

export function importCompose(ctx: ImportContext): Imported {
  const y = parseYaml(ctx.source, "compose file");
  const top = y.value;
  if (!isRecord(top) || !isRecord(top.services) || Object.keys(top.services).length === 0) {
    throw new UsageError(`${ctx.source.shown} is not a compose file: it has no services: mapping`, "check the format word: sv import compose|process-compose|procfile|supervisord FILE");
  }
  for (const key of Object.keys(top)) {
    if (key === "services" || key === "version" || key.startsWith("x-")) continue;
    if (key === "volumes") volumeNotes(ctx, top.volumes, y.lineOf);
    else if (key === "networks" && !hasEntries(top.networks)) continue;
    else ctx.skip(y.lineOf([key]), key, TOP_LEVEL_WHY[key] ?? "not a compose key sv knows; not mapped");
  }
  ctx.noteDotenv("compose");
  const names = new NameMap();
  const services = top.services;
  for (const raw of Object.keys(services)) {
    const { why } = names.add(raw);
    if (why) ctx.skip(y.lineOf(["services", raw]), `services.${raw}`, why, names.get(raw));
  }
  const scope: ComposeScope = {
    ctx,
    names,
    project: projectName(top, ctx.dir),
    completed: completedDependencies(services),
    line: y.lineOf,
    text: (value, path, service) => fromInterpolated(value, (why) => ctx.skip(y.lineOf(path), keyOf(path), why, service)),
  };
  const drafts = Object.entries(services).flatMap(([raw, def]) => {
    const draft = mapComposeService(scope, raw, def);
    return draft ? [draft] : [];
  });
  return { services: drafts };
}

const hasEntries = (x: unknown) => isRecord(x) && Object.keys(x).length > 0;

/** Named volumes are made by sv per project; only those with options (driver, external, name) are reported. */
function volumeNotes(ctx: ImportContext, volumes: unknown, lineOf: (path: Seg[]) => number): void {
  if (!isRecord(volumes)) return;
  for (const [name, def] of Object.entries(volumes)) {
    if (!hasEntries(def)) continue;
    ctx.skip(lineOf(["volumes", name]), `volumes.${name}`, "sv makes named volumes itself (<project>_<name>); driver, driver_opts, external and name are not supported");
  }
}

/** Services some service waits for with condition service_completed_successfully: they run to completion (oneshot). */
function completedDependencies(services: Record<string, unknown>): Set<string> {
  const found = new Set<string>();
  for (const def of Object.values(services)) {
    if (!isRecord(def) || !isRecord(def.depends_on)) continue;
    for (const [dep, opts] of Object.entries(def.depends_on)) if (isRecord(opts) && opts.condition === "service_completed_successfully") found.add(dep);
  }
  return found;
}
