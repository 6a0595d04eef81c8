// Package deploys to a real sshd host through the compiled sv: deploy, upgrade, a failing upgrade rolled back,
// sv rollback, pruning, and a hostile tarball refused with nothing written.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sv, waitFor } from "../helpers/project.ts";
import { get, hostProject, processesWith, statusOf, useHosts } from "./support.ts";

const rig = useHosts(1);

/** A package tarball at `out`: manifest.yaml, www/index.html saying `version`, and the given scripts. */
function buildPackage(out: string, version: string, port: number, scripts: Record<string, string> = {}, extra: (dir: string) => void = () => {}): void {
  const dir = mkdtempSync(join(tmpdir(), "sv-pkg-"));
  writeFileSync(join(dir, "manifest.yaml"), `name: app\nversion: "${version}"\ncommand: exec busybox httpd -f -p ${port} -h ./www\nport: ${port}\nenv: { APP_MODE: packaged }\n`);
  mkdirSync(join(dir, "www"));
  writeFileSync(join(dir, "www/index.html"), `app ${version}\n`);
  for (const d of ["bin", "config", "lib", "scripts"]) mkdirSync(join(dir, d), { recursive: true });
  for (const [name, body] of Object.entries(scripts)) writeFileSync(join(dir, "scripts", name), body, { mode: 0o755 });
  extra(dir);
  const r = Bun.spawnSync(["tar", "-czf", out, "-C", dir, "."]);
  if (r.exitCode !== 0) throw new Error(`tar failed: ${r.stderr}`);
}

describe("package deploys", () => {
  test("deploy, upgrade, a failing upgrade rolled back, sv rollback, pruning", async () => {
    const h1 = rig().hosts[0]!;
    const port = 7201;
    const p = hostProject(rig(), {});
    mkdirSync(join(p.root, "releases"));
    const pkg = join(p.root, "releases/app.tar.gz");
    p.service("app", { host: "h1", package: "./releases/app.tar.gz", install_path: "/opt/app", keep_releases: 3, restart: "on-failure", restart_delay: "100ms" });
    const serving = () => get(`http://${h1.address}:${port}/`).then((b) => b?.trim() ?? null);
    const current = () => h1.run("readlink /opt/app/current").out.trim();

    buildPackage(pkg, "1.0.0", port);
    const up1 = await sv(p.root, ["up"]);
    expect(up1.stderr + up1.stdout).not.toContain("failed");
    expect(up1.code).toBe(0);
    expect(await serving()).toBe("app 1.0.0");
    const v1 = (await statusOf(p.root)).app!.version!;
    expect(v1).toMatch(/^1\.0\.0-[0-9a-f]{8}$/);
    expect(current()).toBe(`releases/${v1}`);
    expect(h1.run(". /opt/app/shared/env && echo $APP_MODE").out.trim()).toBe("packaged");
    expect((await sv(p.root, ["up"])).code).toBe(0); // nothing changed: nothing deployed again
    expect(h1.run("grep -c '^deploy' /opt/app/history").out.trim()).toBe("1");

    buildPackage(pkg, "2.0.0", port);
    expect((await sv(p.root, ["up"])).code).toBe(0);
    expect(await serving()).toBe("app 2.0.0");
    const v2 = (await statusOf(p.root)).app!.version!;
    expect(v2).toMatch(/^2\.0\.0-/);

    // 3.0.0's pre-start fails: the start fails, current goes back to 2.0.0, and its policy starts that again.
    buildPackage(pkg, "3.0.0", port, { "pre-start.sh": "echo no way >&2; exit 3\n" });
    const bad = await sv(p.root, ["up"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr + bad.stdout).toContain("rolled back app to release " + v2);
    expect(current()).toBe(`releases/${v2}`);
    expect((await sv(p.root, ["reconcile"])).code).toBe(0);
    expect(await waitFor(serving, "2.0.0 serves again")).toBe("app 2.0.0");
    expect((await statusOf(p.root)).app).toMatchObject({ state: "running", version: v2 });

    // sv rollback: back to 1.0.0, restarted from it.
    const rb = await sv(p.root, ["rollback", "app"]);
    expect({ code: rb.code, said: rb.code === 0 ? "" : rb.stdout + rb.stderr }).toEqual({ code: 0, said: "" });
    expect(current()).toBe(`releases/${v1}`);
    expect(await waitFor(async () => ((await serving()) === "app 1.0.0" ? "ok" : null), "1.0.0 serves")).toBe("ok");
    expect((await statusOf(p.root)).app!.version).toBe(v1);

    // Pruning keeps the 3 newest (keep_releases) and the one before current (here 1.0.0, which 4.0.0 replaced).
    buildPackage(pkg, "4.0.0", port);
    expect((await sv(p.root, ["up"])).code).toBe(0);
    expect(await serving()).toBe("app 4.0.0");
    const versions = () => h1.run("ls /opt/app/releases").out.split("\n").filter(Boolean).map((r) => r.split("-")[0]).sort();
    expect(versions()).toEqual(["1.0.0", "2.0.0", "3.0.0", "4.0.0"]);
    buildPackage(pkg, "5.0.0", port);
    expect((await sv(p.root, ["up"])).code).toBe(0);
    expect(await serving()).toBe("app 5.0.0");
    expect(versions()).toEqual(["3.0.0", "4.0.0", "5.0.0"]);
    expect(current()).toStartWith("releases/5.0.0-");

    expect((await sv(p.root, ["down"])).code).toBe(0);
    expect(processesWith(h1, `-p ${port}`)).toEqual([]);
  }, 120_000);

  test("a hostile tarball is refused before anything is written to the host", async () => {
    const h1 = rig().hosts[0]!;
    const p = hostProject(rig(), {});
    mkdirSync(join(p.root, "releases"));
    const pkg = join(p.root, "releases/evil.tar.gz");
    const dir = mkdtempSync(join(tmpdir(), "sv-evil-"));
    writeFileSync(join(dir, "manifest.yaml"), 'name: evil\nversion: "1"\ncommand: sleep 1000\n');
    Bun.spawnSync(["ln", "-s", "/etc/passwd", join(dir, "passwd")]);
    expect(Bun.spawnSync(["tar", "-czf", pkg, "-C", dir, "."]).exitCode).toBe(0);
    p.service("evil", { host: "h1", package: "./releases/evil.tar.gz", install_path: "/opt/evil" });
    const r = await sv(p.root, ["up"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("passwd");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(h1.run("ls -d /opt/evil 2>&1; ls -d /root/.sv 2>&1").out).toContain("No such file");
    expect(h1.run("ls /opt/evil").code).not.toBe(0);
  }, 60_000);
});
