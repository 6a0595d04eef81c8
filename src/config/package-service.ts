// A package service's definition: its tarball is read at load, and its manifest's command, port, health_check
// and env fill in what the service leaves out (the service's own keys win). Read once per load and recorded
// in the load's inputs, so a changed tarball is a changed config (and `sv up` deploys it).
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { SvError } from "../errors.ts";
import { type Inputs, hashOf, statId } from "./inputs.ts";
import { isRecord } from "./kinds.ts";
import { type PackageInfo, readPackageData } from "./package.ts";
import type { Problem, Seg } from "./problems.ts";
import type { PackageSpec, RawService } from "./schema.ts";

const read = new Map<string, PackageInfo>();

/**
 * `data` with the manifest's keys under the service's own, when it names a readable package; else `data`. A
 * package that cannot be read is a problem at `package:`.
 */
export function withManifest(data: unknown, root: string, where: { file: string; prefix: Seg[] }, inputs: Inputs, problems: Problem[]): unknown {
  if (!isRecord(data) || typeof data.package !== "string" || data.package.includes("${")) return data;
  const info = packageAt(resolve(root, data.package), inputs, (message) => problems.push({ file: where.file, path: [...where.prefix, "package"], message }));
  if (!info) return data;
  const { command, port, health_check, env } = info.manifest;
  // The package's own scripts (run in its release, the service's cwd on the host) where the service says nothing.
  // (Looked for when run: after a rollback, the release that runs is not this package's.)
  const check = health_check ?? (info.scripts.healthCheck ? { command: "[ ! -f ./scripts/health-check.sh ] || exec /bin/sh ./scripts/health-check.sh" } : undefined);
  const merged: Record<string, unknown> = { command, ...(port === undefined ? {} : { port }), ...(check === undefined ? {} : { health_check: check }), ...data };
  if (info.scripts.postStart) merged.hooks = { post_start: "[ ! -f ./scripts/post-start.sh ] || exec /bin/sh ./scripts/post-start.sh", ...(isRecord(data.hooks) ? data.hooks : {}) };
  if (Object.keys(env).length) merged.env = { ...env, ...(isRecord(data.env) ? data.env : {}) };
  return merged;
}

/** The package of a validated service (read by withManifest in the same load). */
export function toPackage(root: string, svc: string, raw: RawService): PackageSpec | undefined {
  if (raw.package === undefined) return undefined;
  const info = read.get(resolve(root, raw.package));
  if (!info) return undefined;
  return {
    file: info.path,
    sha256: info.sha256,
    release: info.release,
    version: info.manifest.version,
    installPath: raw.install_path ?? `/opt/${svc}`,
    keepReleases: raw.keep_releases ?? 5,
    preInstall: raw.pre_install,
    postInstall: raw.post_install,
    scripts: info.scripts,
  };
}

function packageAt(path: string, inputs: Inputs, problem: (message: string) => void): PackageInfo | undefined {
  try {
    const stats = statSync(path, { bigint: true });
    const { info, data } = readPackageData(path);
    read.set(path, info);
    // The project cache compares the stat, and when the file has just changed the hash of its text as read
    // (the cache reads it as UTF-8 text: so is it hashed here, from the bytes already read).
    inputs.files.set(path, { stat: statId(stats), ctimeNs: stats.ctimeNs, hash: hashOf(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8")) });
    return info;
  } catch (e) {
    if (e instanceof SvError) problem(e.hint ? `${e.message} (${e.hint})` : e.message);
    else problem(`cannot read the package ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return undefined;
  }
}
