// A package service's deploy, on its host: upload and unpack the release (unless it is there), write shared/env,
// pre_install, switch `current` to it, prune old releases, post_install. A release that failed its start is
// marked, `current` goes back to the one before, and the marked release is not switched to again.
import { readFileSync } from "node:fs";
import type { HostSpec } from "../../config/hosts.ts";
import type { PackageSpec } from "../../config/schema.ts";
import { SvError } from "../../errors.ts";
import { deployScript, parseReleases, pruneScript, releasesScript, rollbackScript, switchScript } from "./releases.ts";
import { shq } from "./shell.ts";
import type { Transport } from "./transport.ts";

/** The marker of a release whose start failed: `current` is not switched to it again. */
const failedMark = (pkg: PackageSpec, release: string) => `${shq(pkg.installPath)}/.failed-${shq(release)}`;

/** Make `pkg`'s release current on `host` (deploying it first when needed); returns the release the unit runs. */
export async function deployPackage(t: Transport, host: HostSpec, unit: string, pkg: PackageSpec, env: Record<string, string>): Promise<string> {
  const fail = (what: string, out: { out: string; err: string; code: number }) => {
    const said = (out.err.trim() || out.out.trim()).split("\n").pop() || `exit ${out.code}`;
    return new SvError(`${unit}: ${what} on ${host.name}: ${said}`, { hint: "sv status shows the release that serves" });
  };
  const look = await t.run(host, `${releasesScript({ install: pkg.installPath })}\n[ -e ${failedMark(pkg, pkg.release)} ] && echo "failed-release"\nexit 0`);
  const listing = parseReleases(look.out);
  if (look.out.includes("failed-release")) {
    if (listing.current) return listing.current;
    throw new SvError(`${unit}: release ${pkg.release} failed to start before, and there is no earlier release on ${host.name}`, { hint: "fix the package and deploy a new version" });
  }
  if (listing.current === pkg.release) return pkg.release;
  if (!listing.releases.some((r) => r.name === pkg.release && r.sha256 === pkg.sha256)) {
    const up = await t.run(host, deployScript({ install: pkg.installPath, release: pkg.release, sha256: pkg.sha256, env, preInstall: commandText(pkg.preInstall) }), {
      stdin: readFileSync(pkg.file),
      timeoutMs: 300_000,
    });
    if (up.code !== 0) throw fail(`deploying ${pkg.release} failed`, up);
  }
  const sw = await t.run(host, switchScript({ install: pkg.installPath, release: pkg.release }));
  if (sw.code !== 0) throw fail(`switching to ${pkg.release} failed`, sw);
  await t.run(host, pruneScript({ install: pkg.installPath, keep: pkg.keepReleases }));
  if (pkg.postInstall !== undefined) {
    const post = await t.run(host, `cd ${shq(pkg.installPath)}/current && ${commandText(pkg.postInstall)}`, { timeoutMs: 300_000 });
    if (post.code !== 0) throw fail("post_install failed", post);
  }
  return pkg.release;
}

/** The start of `release` failed: mark it, and switch `current` back to the release before it. */
export async function rollbackAfterFailure(t: Transport, host: HostSpec, unit: string, pkg: PackageSpec, release: string): Promise<string | null> {
  if (release !== pkg.release) return null; // it was already the earlier release
  await t.run(host, `: > ${failedMark(pkg, release)}`);
  const back = await rollback(t, host, pkg);
  if ("why" in back) return `release ${release} is marked failed; there is no earlier release to go back to`;
  return `rolled back ${unit} to release ${back.to} (its restart policy starts it again)`;
}

/** `sv rollback NAME`: `current` to the release before it. Returns [from, to]. */
export async function rollbackRelease(t: Transport, host: HostSpec, unit: string, pkg: PackageSpec): Promise<[string | null, string]> {
  const back = await rollback(t, host, pkg);
  if ("why" in back) throw new SvError(`${unit}: nothing to roll back to on ${host.name}: ${back.why}`, { hint: "only a release deployed before the current one can be rolled back to" });
  // The release rolled away from is not switched to again by the next start (only a new package is).
  if (back.from === pkg.release) await t.run(host, `: > ${failedMark(pkg, pkg.release)}`);
  return [back.from, back.to];
}

/** `current` to the release before it, as the rollback script says (`sv-rollback: ok TO FROM`), or why not. */
async function rollback(t: Transport, host: HostSpec, pkg: PackageSpec): Promise<{ from: string; to: string } | { why: string }> {
  const r = await t.run(host, rollbackScript({ install: pkg.installPath }));
  const ok = /^sv-rollback: ok (\S+) (\S+)$/m.exec(r.out);
  if (r.code === 0 && ok) return { to: ok[1]!, from: ok[2]! };
  return { why: (r.err.trim() || r.out.trim()).split("\n").pop() ?? `exit ${r.code}` };
}

/** A hook command as one shell string. */
function commandText(c: string | string[] | undefined): string | undefined {
  if (c === undefined) return undefined;
  return typeof c === "string" ? c : c.map(shq).join(" ");
}
