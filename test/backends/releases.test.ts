// The release scripts run for real, in dash with GNU coreutils and tar, and in busybox sh with only busybox's
// applets on PATH, against a temp dir standing in for the host's install path.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { deployScript, parseReleases, pruneScript, releasesScript, rollbackScript, switchScript } from "../../src/backends/ssh/releases.ts";
import { shq } from "../../src/backends/ssh/shell.ts";
import { SvError } from "../../src/errors.ts";
import { tempProject } from "../helpers/project.ts";

interface Shell {
  name: string;
  argv: string[];
  env: Record<string, string>;
}

const BUSYBOX = Bun.which("busybox");
const SHELLS: Shell[] = [{ name: "dash + coreutils", argv: [Bun.which("dash")!, "-c"], env: { PATH: "/usr/local/bin:/usr/bin:/bin" } }];
if (BUSYBOX) SHELLS.push({ name: "busybox sh + applets", argv: [BUSYBOX, "sh", "-c"], env: { PATH: "" } });

beforeAll(() => {
  // A PATH holding nothing but busybox applets: no GNU tool can stand in for a missing one.
  if (!BUSYBOX) return;
  const bin = join(tempProject().root, "bin");
  mkdirSync(bin);
  for (const applet of Bun.spawnSync([BUSYBOX, "--list"]).stdout.toString().split("\n").filter(Boolean)) symlinkSync(BUSYBOX, join(bin, applet));
  SHELLS[1]!.env.PATH = bin;
});

interface Run {
  code: number;
  out: string;
  err: string;
}

/** `script` in `shell`, with `stdin`. */
async function run(shell: Shell, script: string, stdin?: Uint8Array | string): Promise<Run> {
  const proc = Bun.spawn([...shell.argv, script], { env: shell.env, stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

interface Tarball {
  bytes: Uint8Array;
  sha256: string;
  release: string;
}

/** A gzipped tarball of `files` (made with GNU tar), named as readPackage would name its release. */
function tarball(version: string, files: Record<string, string> = {}, flags: string[] = ["-cz"]): Tarball {
  const { root } = tempProject();
  const dir = join(root, "pkg");
  for (const [path, content] of Object.entries({ "manifest.yaml": `name: app\nversion: "${version}"\ncommand: bin/app\n`, "bin/app": `#!/bin/sh\necho ${version}\n`, ...files })) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const out = join(root, "app.tgz");
  const made = Bun.spawnSync(["tar", ...flags, "-f", out, "-C", dir, "."]);
  if (made.exitCode !== 0) throw new Error(made.stderr.toString());
  const bytes = new Uint8Array(readFileSync(out));
  const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  return { bytes, sha256, release: `${version}-${sha256.slice(0, 8)}` };
}

/** What a tight readlink loop in another process saw of install/current while `during` ran. */
async function watchCurrent(install: string, during: () => Promise<void>): Promise<{ n: number; miss: number; seen: string[] }> {
  const current = JSON.stringify(join(install, "current"));
  const stop = join(install, "..", "stop");
  const reader = Bun.spawn(
    [process.execPath, "-e", `const fs=require("node:fs");let n=0,miss=0;const seen=new Set();console.log("ready");while(!fs.existsSync(${JSON.stringify(stop)})){for(let i=0;i<200;i++){n++;try{seen.add(fs.readlinkSync(${current}))}catch{miss++}}}console.log(JSON.stringify({n,miss,seen:[...seen].sort()}))`],
    { stdout: "pipe" },
  );
  const out = reader.stdout.getReader();
  let text = new TextDecoder().decode((await out.read()).value);
  await during();
  writeFileSync(stop, "");
  for (let chunk = await out.read(); !chunk.done; chunk = await out.read()) text += new TextDecoder().decode(chunk.value);
  return JSON.parse(text.slice(text.indexOf("\n") + 1));
}

const installDir = () => join(tempProject().root, "opt", "app");
const currentOf = (install: string) => readlinkSync(join(install, "current"));
const lines = (out: string) => out.trim().split("\n");

for (const shell of SHELLS) {
  describe(shell.name, () => {
    const deploy = (install: string, t: Tarball, more: { env?: Record<string, string>; preInstall?: string; sha256?: string } = {}) =>
      run(shell, deployScript({ install, release: t.release, sha256: more.sha256 ?? t.sha256, env: more.env ?? {}, preInstall: more.preInstall }), t.bytes);
    const sw = (install: string, t: Tarball) => run(shell, switchScript({ install, release: t.release }));
    const listing = async (install: string) => parseReleases((await run(shell, releasesScript({ install }))).out);
    /** Deploy and switch, expecting both to succeed. */
    const ship = async (install: string, t: Tarball) => {
      const d = await deploy(install, t);
      expect(d).toMatchObject({ code: 0, out: `sv-deploy: ok ${t.release} uploaded\n` });
      expect((await sw(install, t)).code).toBe(0);
    };

    test("deploy, switch, deploy, switch, rollback: current and previous at each step", async () => {
      const install = installDir();
      const [v1, v2] = [tarball("1.0.0"), tarball("2.0.0")];
      expect(await listing(install)).toEqual({ current: null, previous: null, releases: [] });

      const d1 = await deploy(install, v1);
      expect(d1).toEqual({ code: 0, out: `sv-deploy: ok ${v1.release} uploaded\n`, err: "" });
      expect(readFileSync(join(install, "releases", v1.release, "bin/app"), "utf8")).toBe("#!/bin/sh\necho 1.0.0\n");
      expect(readFileSync(join(install, "releases", v1.release, ".sv-sha256"), "utf8")).toBe(`${v1.sha256}\n`);
      expect(existsSync(join(install, "current"))).toBe(false);
      expect(await listing(install)).toEqual({ current: null, previous: null, releases: [{ name: v1.release, sha256: v1.sha256 }] });

      expect(await sw(install, v1)).toEqual({ code: 0, out: `sv-switch: ok ${v1.release} -\n`, err: "" });
      expect(currentOf(install)).toBe(`releases/${v1.release}`);

      expect((await deploy(install, v2)).code).toBe(0);
      expect(currentOf(install)).toBe(`releases/${v1.release}`);
      expect((await sw(install, v2)).out).toBe(`sv-switch: ok ${v2.release} ${v1.release}\n`);
      expect(await listing(install)).toEqual({
        current: v2.release,
        previous: v1.release,
        releases: [
          { name: v1.release, sha256: v1.sha256 },
          { name: v2.release, sha256: v2.sha256 },
        ],
      });

      expect(await run(shell, rollbackScript({ install }))).toEqual({ code: 0, out: `sv-rollback: ok ${v1.release} ${v2.release}\n`, err: "" });
      expect(currentOf(install)).toBe(`releases/${v1.release}`);
      expect((await listing(install)).previous).toBeNull();
      const again = await run(shell, rollbackScript({ install }));
      expect(again).toEqual({ code: 1, out: `sv-rollback: error no-previous no release before ${v1.release} to roll back to\n`, err: `no release before ${v1.release} to roll back to\n` });
      expect(readFileSync(join(install, "history"), "utf8")).toBe(
        [`deploy ${v1.release}`, `switch ${v1.release}`, `deploy ${v2.release}`, `switch ${v2.release}`, `rollback ${v2.release}`, `restore ${v1.release}`, ""].join("\n"),
      );
      expect(existsSync(join(install, ".lock"))).toBe(false);
    });

    test("rollback walks back by deploy order, and skips releases rolled back from or never switched to", async () => {
      const install = installDir();
      const [v1, v2, v3, v4, v5] = ["1", "2", "3", "4", "5"].map((v) => tarball(v)) as [Tarball, Tarball, Tarball, Tarball, Tarball];
      for (const t of [v1, v2, v3]) await ship(install, t);
      expect((await run(shell, rollbackScript({ install }))).out).toBe(`sv-rollback: ok ${v2.release} ${v3.release}\n`);
      await ship(install, v4); // v3 was rolled back from: not a target any more
      expect((await listing(install)).previous).toBe(v2.release);
      expect((await deploy(install, v5)).code).toBe(0); // deployed, never switched to: not a target either
      expect((await run(shell, rollbackScript({ install }))).out).toBe(`sv-rollback: ok ${v2.release} ${v4.release}\n`);
      expect((await run(shell, rollbackScript({ install }))).out).toBe(`sv-rollback: ok ${v1.release} ${v2.release}\n`);
      // Switching to an old release again makes it the newest: rollback goes to what served before it.
      expect((await sw(install, v2)).out).toBe(`sv-switch: ok ${v2.release} ${v1.release}\n`);
      expect((await listing(install)).previous).toBe(v1.release);
      expect((await sw(install, v3)).code).toBe(0);
      expect((await listing(install)).previous).toBe(v2.release);
    });

    test("prune keeps the newest `keep`, and always current and previous; clears what interrupted deploys left", async () => {
      const install = installDir();
      const [v1, v2, v3, v4, v5] = ["1", "2", "3", "4", "5"].map((v) => tarball(v)) as [Tarball, Tarball, Tarball, Tarball, Tarball];
      for (const t of [v1, v2, v3, v4]) await ship(install, t);
      expect((await run(shell, rollbackScript({ install }))).code).toBe(0); // current v3, previous v2
      expect((await deploy(install, v5)).code).toBe(0); // the newest, not switched to
      mkdirSync(join(install, "releases", ".9-deadbeef.partial"));
      writeFileSync(join(install, ".upload.12345"), "half");
      const pruned = await run(shell, pruneScript({ install, keep: 1 }));
      expect(pruned).toEqual({ code: 0, out: `sv-prune: removed ${v4.release}\nsv-prune: removed ${v1.release}\nsv-prune: ok 2 3\n`, err: "" });
      expect(readdirSync(join(install, "releases")).sort()).toEqual([v2.release, v3.release, v5.release].sort());
      expect(readdirSync(install).sort()).toEqual(["current", "history", "releases", "shared"]);
      const l = await listing(install);
      expect([l.current, l.previous]).toEqual([v3.release, v2.release]);
      expect((await run(shell, pruneScript({ install, keep: 5 }))).out).toBe("sv-prune: ok 0 3\n");
      expect((await run(shell, pruneScript({ install: installDir(), keep: 5 }))).out).toBe("sv-prune: ok 0 0\n");
    });

    test("a sha256 mismatch is refused and leaves nothing half-made", async () => {
      const install = installDir();
      const v1 = tarball("1.0");
      const bad = await deploy(install, v1, { sha256: "0".repeat(64) });
      expect(bad.code).toBe(1);
      expect(bad.out).toBe(`sv-deploy: error sha-mismatch the upload's sha256 is ${v1.sha256}, not ${"0".repeat(64)} (damaged in transit?)\n`);
      expect(lines(bad.err).at(-1)).toBe(`the upload's sha256 is ${v1.sha256}, not ${"0".repeat(64)} (damaged in transit?)`);
      expect(readdirSync(install).sort()).toEqual(["releases", "shared"]);
      expect(readdirSync(join(install, "releases"))).toEqual([]);
    });

    test("a deploy cut off mid-upload (the ssh session gone: HUP, stdin closed) cleans up and releases the lock", async () => {
      const install = installDir();
      const v1 = tarball("1.0", { "lib/blob": Math.random().toString().repeat(20_000) });
      const proc = Bun.spawn([...shell.argv, deployScript({ install, release: v1.release, sha256: v1.sha256, env: {} })], { env: shell.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      proc.stdin.write(v1.bytes.subarray(0, 1000));
      await proc.stdin.flush();
      const deadline = Date.now() + 10_000;
      while (!(existsSync(install) && readdirSync(install).some((f) => f.startsWith(".upload."))) && Date.now() < deadline) await Bun.sleep(10);
      proc.kill("SIGHUP");
      proc.stdin.end();
      expect(await proc.exited).not.toBe(0);
      expect(readdirSync(install).sort()).toEqual(["releases", "shared"]);
      expect(readdirSync(join(install, "releases"))).toEqual([]);
    });

    test("an unforeseen failure under set -e still ends with an error line, and releases the lock", async () => {
      const install = installDir();
      mkdirSync(install, { recursive: true });
      writeFileSync(join(install, "releases"), "a file where a folder should be");
      const r = await deploy(install, tarball("1.0"));
      expect(r.code).toBe(1);
      expect(r.out).toBe("sv-deploy: error io stopped with exit code 1 (see stderr)\n");
      expect(r.err).not.toBe("");
      expect(existsSync(join(install, ".lock"))).toBe(false);
    });

    test("a tarball tar cannot unpack leaves no partial release", async () => {
      const install = installDir();
      const junk = new TextEncoder().encode("not a tarball ".repeat(100));
      const sha256 = new Bun.CryptoHasher("sha256").update(junk).digest("hex");
      const r = await run(shell, deployScript({ install, release: "1-aaaaaaaa", sha256, env: {} }), junk);
      expect(r.code).toBe(1);
      expect(r.out).toBe(`sv-deploy: error extract tar could not unpack the package into ${install}/releases/.1-aaaaaaaa.partial\n`);
      expect(readdirSync(install).sort()).toEqual(["releases", "shared"]);
      expect(readdirSync(join(install, "releases"))).toEqual([]);
    });

    test("a held lock refuses a second deploy; a dead holder's, an old one's or an ownerless one's is broken", async () => {
      const install = installDir();
      const v1 = tarball("1.0");
      mkdirSync(join(install, ".lock"), { recursive: true });
      const now = Math.floor(Date.now() / 1000);
      writeFileSync(join(install, ".lock/owner"), `${process.pid} ${now} ${hostname()} deploy\n`);
      const refused = await deploy(install, v1);
      expect(refused.code).toBe(3);
      expect(refused.out).toBe(`sv-deploy: error locked ${install} is locked by pid ${process.pid} on ${hostname()} (deploy, since ${now})\n`);
      expect(readFileSync(join(install, ".lock/owner"), "utf8")).toBe(`${process.pid} ${now} ${hostname()} deploy\n`);
      expect(existsSync(join(install, "releases", v1.release))).toBe(false);
      mkdirSync(join(install, "releases"));
      expect((await sw(install, v1)).code).toBe(3);

      // Live pid, but older than staleLockSeconds.
      writeFileSync(join(install, ".lock/owner"), `${process.pid} ${now - 100} ${hostname()} deploy\n`);
      const old = await run(shell, deployScript({ install, release: v1.release, sha256: v1.sha256, env: {}, staleLockSeconds: 50 }), v1.bytes);
      expect(old.code).toBe(0);
      expect(old.err).toBe(`broke a stale lock of ${install} (pid ${process.pid}, since ${now - 100}, on ${hostname()})\n`);

      // A pid that is gone.
      const gone = Bun.spawnSync(["true"]).pid;
      mkdirSync(join(install, ".lock"));
      writeFileSync(join(install, ".lock/owner"), `${gone} ${now} ${hostname()} switch\n`);
      expect((await sw(install, v1)).code).toBe(0);
      expect(existsSync(join(install, ".lock"))).toBe(false);

      // No owner a second after: its maker died between mkdir and writing it.
      mkdirSync(join(install, ".lock"));
      expect((await run(shell, rollbackScript({ install }))).out).toBe(`sv-rollback: error no-previous no release before ${v1.release} to roll back to\n`);
      expect(existsSync(join(install, ".lock"))).toBe(false);
    });

    test("a failing pre_install aborts the deploy: the release stays, current does not move; it runs in the release with shared/env", async () => {
      const install = installDir();
      const [v1, v2] = [tarball("1.0"), tarball("2.0")];
      await ship(install, v1);
      const failed = await deploy(install, v2, { preInstall: "echo about to fail; exit 7", env: { GREETING: "hello there" } });
      expect(failed).toEqual({ code: 1, out: `sv-deploy: error pre-install pre_install exited with code 7 in releases/${v2.release}\n`, err: "about to fail\npre_install exited with code 7 in releases/" + v2.release + "\n" });
      expect(currentOf(install)).toBe(`releases/${v1.release}`);
      expect(existsSync(join(install, "releases", v2.release, "bin/app"))).toBe(true);
      expect(existsSync(join(install, ".lock"))).toBe(false);

      const ok = await deploy(install, v2, { preInstall: `pwd > ${shq(join(install, "pre.out"))}; echo "$GREETING" >> ${shq(join(install, "pre.out"))}; cat >> ${shq(join(install, "pre.out"))}`, env: { GREETING: "hello there" } });
      expect(ok).toEqual({ code: 0, out: `sv-deploy: ok ${v2.release} present\n`, err: "" });
      expect(readFileSync(join(install, "pre.out"), "utf8")).toBe(`${join(install, "releases", v2.release)}\nhello there\n`);
    });

    test("redeploying a release is idempotent: nothing unpacked again", async () => {
      const install = installDir();
      const v1 = tarball("1.0");
      await ship(install, v1);
      writeFileSync(join(install, "releases", v1.release, "marker"), "kept");
      const ino = lstatSync(join(install, "releases", v1.release)).ino;
      expect(await deploy(install, v1)).toEqual({ code: 0, out: `sv-deploy: ok ${v1.release} present\n`, err: "" });
      expect(readFileSync(join(install, "releases", v1.release, "marker"), "utf8")).toBe("kept");
      expect(lstatSync(join(install, "releases", v1.release)).ino).toBe(ino);
      expect(await sw(install, v1)).toEqual({ code: 0, out: `sv-switch: ok ${v1.release} ${v1.release}\n`, err: "" });
    });

    test("a release dir that is not what its name says is replaced, unless it serves", async () => {
      const install = installDir();
      const v1 = tarball("1.0");
      mkdirSync(join(install, "releases", v1.release, "junk"), { recursive: true });
      expect((await deploy(install, v1)).out).toBe(`sv-deploy: ok ${v1.release} uploaded\n`);
      expect(existsSync(join(install, "releases", v1.release, "junk"))).toBe(false);
      expect((await sw(install, v1)).code).toBe(0);
      writeFileSync(join(install, "releases", v1.release, ".sv-sha256"), `${"1".repeat(64)}\n`);
      const serving = await deploy(install, v1);
      expect(serving).toMatchObject({ code: 1, out: `sv-deploy: error conflict releases/${v1.release} serves but was not unpacked from this tarball\n` });
    });

    test("a plain tar unpacks too; files are the deploying user's whatever the tarball says", async () => {
      const install = installDir();
      const v1 = tarball("1.0", {}, ["-c", "--owner=1234", "--group=4321"]);
      expect((await deploy(install, v1)).code).toBe(0);
      const st = lstatSync(join(install, "releases", v1.release, "bin/app"));
      expect([st.uid, st.gid]).toEqual([process.getuid!(), process.getgid!()]);
    });

    test("shared/env round-trips quotes, spaces, $, backslashes and newlines when sourced by sh; it is private", async () => {
      const install = installDir();
      const env = { PLAIN: "x", SPACES: "a b  c", QUOTES: `it's "q" ''`, DOLLAR: "$HOME ${PATH} $(id) `id`", BACK: "a\\b\\\\", NL: "one\ntwo\n", EMPTY: "", UNI: "héllo ✓", GLOB: "*" };
      expect((await deploy(install, tarball("1.0"), { env })).code).toBe(0);
      const read = await run(shell, `set -a; . ${shq(join(install, "shared/env"))}; set +a; for k in ${Object.keys(env).join(" ")}; do eval "v=\\$$k"; printf '%s=%s\\0' "$k" "$v"; done`);
      expect(read.code).toBe(0);
      const got = Object.fromEntries(read.out.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
      expect(got).toEqual(env);
      expect(lstatSync(join(install, "shared/env")).mode & 0o777).toBe(0o600);
      expect((await deploy(install, tarball("2.0"), { env: {} })).code).toBe(0);
      expect(readFileSync(join(install, "shared/env"), "utf8")).toBe("");
    });

    test("current is replaced by one rename(2), never missing while 50 switches run", async () => {
      const install = installDir();
      const [v1, v2] = [tarball("1.0"), tarball("2.0")];
      await ship(install, v1);
      expect((await deploy(install, v2)).code).toBe(0);
      const seen = await watchCurrent(install, async () => {
        for (let i = 0; i < 50; i++) expect((await sw(install, i % 2 ? v1 : v2)).code).toBe(0);
      });
      expect(seen.miss).toBe(0);
      expect(seen.seen).toEqual([`releases/${v1.release}`, `releases/${v2.release}`]);
      expect(seen.n).toBeGreaterThan(1000);

      // And by the system calls: one rename onto current, no unlink of it.
      const traced = Bun.spawnSync([Bun.which("strace")!, "-f", "-qq", "-e", "signal=none", "-e", "trace=rename,renameat,renameat2,unlink,unlinkat,symlink,symlinkat", ...shell.argv, switchScript({ install, release: v2.release })], { env: shell.env });
      const calls = traced.stderr.toString().split("\n");
      const renames = calls.filter((l) => /rename/.test(l) && /\.switch\.\d+\/current", /.test(l) && /(\/|")current"\) = 0$/.test(l));
      expect(renames).toHaveLength(1);
      expect(calls.filter((l) => /unlink/.test(l) && /(\/|")current"/.test(l) && !/\.switch\./.test(l))).toEqual([]);
    });

    test("control: the same reader does see current missing when a switch is unlink + symlink", async () => {
      const install = installDir();
      const v1 = tarball("1.0");
      await ship(install, v1);
      const seen = await watchCurrent(install, async () => {
        for (let i = 0; i < 50; i++) expect((await run(shell, `cd ${shq(install)} && rm -f current && ln -s releases/${v1.release} current`)).code).toBe(0);
      });
      expect(seen.miss).toBeGreaterThan(0);
    });

    test("releasesScript does not exit: a caller may append to it", async () => {
      const r = await run(shell, `${releasesScript({ install: installDir() })}\necho appended`);
      expect(r).toEqual({ code: 0, out: "sv-releases: current -\nsv-releases: previous -\nsv-releases: ok\nappended\n", err: "" });
    });

    test("shq quotes any string into one word", async () => {
      const words = ["", "plain", "it's", "'", "''", "a'b'c", "$HOME", "${PATH}", "`id`", "$(id)", "\\", "a\\nb", "line\nbreak", "*", "-n", "tab\there", "héllo ✓", "!x", "; rm -rf /"];
      const r = await run(shell, `for w in ${words.map(shq).join(" ")}; do printf '%s\\0' "$w"; done`);
      expect(r.out.split("\0").slice(0, -1)).toEqual(words);
    });
  });
}

describe("script arguments are checked before any script is made", () => {
  const throws = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(SvError);
      return (e as SvError).message;
    }
    throw new Error("did not throw");
  };
  const ok = { install: "/opt/app", release: "1.0-abcdef12", sha256: "a".repeat(64), env: {} };

  test.each([
    ["a relative install path", { ...ok, install: "opt/app" }, 'install_path "opt/app" must be an absolute path on the host'],
    ["a release with a slash", { ...ok, release: "../x" }, '"../x" is not a release name'],
    ["a hidden release", { ...ok, release: ".x" }, '".x" is not a release name'],
    ["a bad sha256", { ...ok, sha256: "xyz" }, '"xyz" is not a sha256'],
    ["an env name sh cannot set", { ...ok, env: { "A-B": "1" } }, 'cannot write the variable "A-B" to shared/env: not a shell variable name'],
  ])("%s", (_, o, message) => {
    expect(throws(() => deployScript(o))).toBe(message);
  });

  test("shq of a NUL, and a negative keep", () => {
    expect(throws(() => shq("a\0b"))).toBe('cannot pass a NUL byte to a remote shell (in "a\\0b")');
    expect(throws(() => pruneScript({ install: "/opt/app", keep: -1 }))).toBe("keep_releases must be a whole number of at least 0 (got -1)");
  });

  test("shq", () => {
    expect([shq(""), shq("a b"), shq("it's")]).toEqual(["''", "'a b'", `'it'\\''s'`]);
  });

  test("parseReleases ignores what is not its own", () => {
    expect(parseReleases("noise\nsv-releases: current 1-a\nsv-releases: previous -\nsv-releases: release 1-a abc\nsv-releases: release 0-b -\nfailed-release\n")).toEqual({
      current: "1-a",
      previous: null,
      releases: [
        { name: "1-a", sha256: "abc" },
        { name: "0-b", sha256: "" },
      ],
    });
  });
});
