// readPackage on real tarballs made with the system's GNU tar: good ones described exactly, hostile ones refused
// before anything is extracted, each with a one-line message naming the tarball and the member.
import { describe, expect, test } from "bun:test";
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PackageError, packageDigest, readPackage } from "../../src/config/package.ts";
import { SvError } from "../../src/errors.ts";
import { tempProject } from "../helpers/project.ts";

const MANIFEST = `name: app
version: 1.2.3
command: bin/app --port 8080
port: 8080
env: { GREETING: "hi there", N: 3 }
health_check: { url: "http://127.0.0.1:8080/health" }
`;

type Tree = Record<string, string | { symlink: string } | { fifo: true }>;

/** A folder holding `tree` (path -> content, or a symlink/FIFO), in a fresh temp dir. */
function folder(tree: Tree): { root: string; dir: string } {
  const { root } = tempProject();
  const dir = join(root, "pkg");
  mkdirSync(dir);
  for (const [path, what] of Object.entries(tree)) {
    const full = join(dir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    if (typeof what === "string") writeFileSync(full, what);
    else if ("symlink" in what) symlinkSync(what.symlink, full);
    else run(["mkfifo", full]);
  }
  return { root, dir };
}

function run(argv: string[], cwd?: string): void {
  const r = Bun.spawnSync(argv, { cwd, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
}

/** `tree` packed with `tar <flags> -C pkg <members>` into root/<name>. */
function pack(tree: Tree, { name = "app.tar.gz", flags = ["-cz"], members = ["."] }: { name?: string; flags?: string[]; members?: string[] } = {}): string {
  const { root, dir } = folder(tree);
  const out = join(root, name);
  run(["tar", ...flags, "-f", out, "-C", dir, ...members]);
  return out;
}

/** The SvError readPackage throws for `path`. */
function refusal(path: string): SvError {
  try {
    readPackage(path);
  } catch (e) {
    if (e instanceof SvError) return e;
    throw e;
  }
  throw new Error(`${path} was accepted`);
}

const sha256sum = (path: string) => Bun.spawnSync(["sha256sum", path]).stdout.toString().split(" ")[0]!;

describe("a good package", () => {
  test("gives its manifest, digest, scripts and release name", () => {
    const path = pack({ "manifest.yaml": MANIFEST, "bin/app": "#!/bin/sh\n", "scripts/pre-start.sh": "true\n", "scripts/health-check.sh": "true\n", "lib/x": "x", "config/app.conf": "" });
    const info = readPackage(path);
    const sha = sha256sum(path);
    expect(info).toEqual({
      path,
      sha256: sha,
      sha8: sha.slice(0, 8),
      bytes: Bun.file(path).size,
      manifest: { name: "app", version: "1.2.3", command: "bin/app --port 8080", port: 8080, health_check: { url: "http://127.0.0.1:8080/health" }, env: { GREETING: "hi there", N: "3" } },
      scripts: { preStart: true, postStart: false, healthCheck: true },
      release: `1.2.3-${sha.slice(0, 8)}`,
    });
    expect(packageDigest(path)).toEqual({ sha256: sha, bytes: info.bytes });
  });

  test("a plain tar is read by its bytes, whatever its name says; ./ or bare member names both work", () => {
    const dotted = pack({ "manifest.yaml": MANIFEST, "scripts/post-start.sh": "" }, { name: "app.tar.gz", flags: ["-c"] });
    expect(readPackage(dotted).scripts).toEqual({ preStart: false, postStart: true, healthCheck: false });
    const bare = pack({ "manifest.yaml": MANIFEST }, { name: "app.tgz", flags: ["-cz"], members: ["manifest.yaml"] });
    expect(readPackage(bare).manifest.name).toBe("app");
  });

  test("long names in GNU, pax and ustar formats, and a symlink that stays inside", () => {
    const deep = `lib/${"d".repeat(90)}/${"e".repeat(90)}/file.txt`;
    for (const format of ["gnu", "pax", "ustar"]) {
      const path = pack(
        { "manifest.yaml": MANIFEST, [deep]: "x", "bin/app": "", "bin/run": { symlink: "app" }, "lib/cur": { symlink: "../bin" }, "scripts/pre-start.sh": { symlink: "../bin/app" } },
        { flags: ["-cz", `--format=${format}`] },
      );
      expect(readPackage(path).scripts.preStart).toBe(true);
    }
  });

  test("a version that is no directory name is cut to one", () => {
    const path = pack({ "manifest.yaml": "name: app\nversion: 'v1 beta/2$'\ncommand: [bin/app, 1]\n" });
    const info = readPackage(path);
    expect(info.release).toBe(`v1_beta_2_-${info.sha8}`);
    expect(info.manifest).toEqual({ name: "app", version: "v1 beta/2$", command: ["bin/app", "1"], env: {} });
    const whole = pack({ "manifest.yaml": "name: app\nversion: 2\ncommand: x\n" });
    expect(readPackage(whole).manifest.version).toBe("2");
    const hidden = pack({ "manifest.yaml": "name: app\nversion: .hidden\ncommand: x\n" });
    expect(readPackage(hidden).release).toStartWith("_hidden-");
  });
});

describe("hostile members are refused", () => {
  const hint = (e: SvError) => e.hint ?? "";

  test("a .. segment", () => {
    const { root, dir } = folder({ "sub/manifest.yaml": MANIFEST, evil: "x" });
    const out = join(root, "evil.tar.gz");
    run(["tar", "-czPf", out, "-C", join(dir, "sub"), "manifest.yaml", "../evil"]);
    const e = refusal(out);
    expect(e.message).toBe(`${out}: member "../evil" has a ".." segment`);
    expect(hint(e)).toContain("only hold paths inside its release dir");
  });

  test("an absolute path", () => {
    const { root, dir } = folder({ "manifest.yaml": MANIFEST, abs: "x" });
    const out = join(root, "abs.tar");
    run(["tar", "-cPf", out, "-C", dir, "manifest.yaml", join(dir, "abs")]);
    expect(refusal(out).message).toBe(`${out}: member "${join(dir, "abs")}" has an absolute path`);
  });

  test("symlinks to an absolute path, out of the release dir, or through another symlink", () => {
    const abs = pack({ "manifest.yaml": MANIFEST, "etc/pw": { symlink: "/etc/passwd" } });
    expect(refusal(abs).message).toBe(`${abs}: member "./etc/pw" is a symlink to "/etc/passwd", an absolute path`);
    expect(refusal(abs).hint).toBe("symlinks in a package must be relative and stay inside it");
    const up = pack({ "manifest.yaml": MANIFEST, a: { symlink: "../../x" } });
    expect(refusal(up).message).toBe(`${up}: member "./a" is a symlink to "../../x", outside the release dir`);
    const deeper = pack({ "manifest.yaml": MANIFEST, "sub/a": { symlink: "../../x" } });
    expect(refusal(deeper).message).toBe(`${deeper}: member "./sub/a" is a symlink to "../../x", outside the release dir`);
    // sub/l -> .. is the release dir, so sub/l/.. would be its parent: each link is inside alone, not together.
    const chained = pack({ "manifest.yaml": MANIFEST, "sub/l": { symlink: ".." }, e: { symlink: "sub/l/.." } });
    expect(refusal(chained).message).toBe(`${chained}: member "./e" is a symlink to "sub/l/..", through the symlink "sub/l"`);
  });

  test("a member written through a symlink of the package", () => {
    const { root, dir } = folder({ "manifest.yaml": MANIFEST, lib: { symlink: "real" }, "other/lib/x": "x" });
    const out = join(root, "through.tar");
    run(["tar", "-cf", out, "-C", dir, "manifest.yaml", "lib"]);
    run(["tar", "-rf", out, "-C", join(dir, "other"), "lib/x"]);
    expect(refusal(out).message).toBe(`${out}: member "lib/x" is inside the symlink "lib"`);
  });

  test("a hard link", () => {
    const { root, dir } = folder({ "manifest.yaml": MANIFEST, "bin/a": "x" });
    linkSync(join(dir, "bin/a"), join(dir, "bin/b"));
    const out = join(root, "hard.tgz");
    run(["tar", "-czf", out, "-C", dir, "manifest.yaml", "bin/a", "bin/b"]);
    const e = refusal(out);
    expect(e.message).toBe(`${out}: member "bin/b" is a hard link (to "bin/a")`);
    expect(hint(e)).toContain("may not hold hard links");
  });

  test("a FIFO", () => {
    const out = pack({ "manifest.yaml": MANIFEST, pipe: { fifo: true } }, { members: ["manifest.yaml", "pipe"] });
    expect(refusal(out).message).toBe(`${out}: member "pipe" is a FIFO`);
    expect(refusal(out).hint).toBe("a package holds only files, directories and symlinks");
  });

  test("a setuid file", () => {
    const { root, dir } = folder({ "manifest.yaml": MANIFEST, "bin/su": "x" });
    chmodSync(join(dir, "bin/su"), 0o4755);
    const out = join(root, "suid.tgz");
    run(["tar", "-czf", out, "-C", dir, "."]);
    expect(refusal(out).message).toBe(`${out}: member "./bin/su" is setuid or setgid`);
  });

  test("more members than a package may hold", () => {
    const { root, dir } = folder({ "manifest.yaml": MANIFEST, e: "" });
    writeFileSync(join(root, "list"), `manifest.yaml\n${"e\n".repeat(100_000)}`);
    const out = join(root, "many.tgz");
    run(["tar", "-czf", out, "-C", dir, "-T", join(root, "list")]);
    expect(refusal(out).message).toBe(`${out}: has more than 100000 members`);
  });
});

describe("broken tarballs are refused", () => {
  test("no manifest.yaml at the top, with where it is when it is one folder down", () => {
    const none = pack({ "bin/app": "" });
    expect(refusal(none).message).toBe(`${none}: no manifest.yaml at the top of the tarball`);
    const { root, dir } = folder({ "app-1.2.3/manifest.yaml": MANIFEST });
    const nested = join(root, "nested.tgz");
    run(["tar", "-czf", nested, "-C", dir, "app-1.2.3"]);
    const e = refusal(nested);
    expect(e.message).toBe(`${nested}: no manifest.yaml at the top of the tarball`);
    expect(e.hint).toBe("it is at app-1.2.3/manifest.yaml: tar -czf app.tar.gz -C app-1.2.3 .");
  });

  test("a manifest that is a symlink, or too big", () => {
    const linked = pack({ "real.yaml": MANIFEST, "manifest.yaml": { symlink: "real.yaml" } });
    expect(refusal(linked).message).toBe(`${linked}: manifest.yaml is a symlink, not a file`);
    const text = `${MANIFEST}#${"x".repeat(70_000)}\n`;
    const big = pack({ "manifest.yaml": text });
    expect(refusal(big).message).toBe(`${big}: manifest.yaml is ${text.length} bytes, more than 64 KiB`);
  });

  test("a truncated gzip, a truncated tar, bytes that are no tar, an empty file", () => {
    const good = pack({ "manifest.yaml": MANIFEST, "lib/big": "x".repeat(100_000) + Math.random() }, { flags: ["-cz"] });
    const { root } = tempProject();
    const bytes = new Uint8Array(require("node:fs").readFileSync(good));
    const cut = join(root, "cut.tgz");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 20));
    expect(refusal(cut).message).toBe(`${cut}: is corrupt gzip data (unexpected end of file)`);
    expect(refusal(cut).hint).toBe("the file is damaged or not a tarball: build or copy it again");

    const plain = pack({ "manifest.yaml": MANIFEST, "lib/big": "y".repeat(5000) }, { name: "p.tar", flags: ["-c"], members: ["manifest.yaml", "lib/big"] });
    const tarBytes = require("node:fs").readFileSync(plain) as Buffer;
    const short = join(root, "short.tar");
    writeFileSync(short, tarBytes.subarray(0, 1024 + 512 + 2048));
    expect(refusal(short).message).toBe(`${short}: is truncated (member "lib/big" needs 5000 bytes, 2048 are left)`);
    const unterminated = join(root, "unterminated.tar");
    writeFileSync(unterminated, tarBytes.subarray(0, 1024 + 512 + 5120));
    expect(refusal(unterminated).message).toBe(`${unterminated}: is truncated (no end-of-archive marker after byte 6656)`);
    const flipped = join(root, "flipped.tar");
    const copy = Buffer.from(tarBytes);
    copy[1034] = copy[1034]! ^ 1;
    writeFileSync(flipped, copy);
    expect(refusal(flipped).message).toBe(`${flipped}: is corrupt (bad header checksum at byte 1024)`);

    const junk = join(root, "junk.tar.gz");
    writeFileSync(junk, "this is not a tarball at all, just some text that is long enough to be a header".repeat(10));
    expect(refusal(junk).message).toBe(`${junk}: is not a tar archive`);
    const empty = join(root, "empty.tgz");
    writeFileSync(empty, "");
    expect(refusal(empty).message).toBe(`${empty}: is empty`);
  });

  test("a path that is no file", () => {
    const { root } = tempProject();
    expect(refusal(join(root, "nope.tgz")).message).toBe(`${join(root, "nope.tgz")}: no such file`);
    expect(refusal(join(root, "nope.tgz")).hint).toBe("build the package first, or fix the package: path");
    expect(refusal(root).message).toBe(`${root}: is a directory, not a tarball`);
    run(["mkfifo", join(root, "fifo.tgz")]);
    expect(refusal(join(root, "fifo.tgz")).message).toBe(`${join(root, "fifo.tgz")}: is not a regular file, not a tarball`);
  });
});

describe("a bad manifest gives every problem, placed", () => {
  const problems = (manifest: string): string[] => {
    const path = pack({ "manifest.yaml": manifest });
    const e = refusal(path);
    expect(e).toBeInstanceOf(PackageError);
    expect(e.hint).toBe("fix manifest.yaml (name, version, command; optional port, health_check, env) and build the package again");
    return (e as PackageError).problems.map((p) => p.slice(path.length + 2));
  };

  test("unknown keys (with a guess), missing and mistyped ones", () => {
    expect(problems("name: app\nversoin: 1.2.3\ncommand: [1]\nport: 99999\nenv: { A: [1] }\n")).toEqual([
      "manifest.yaml:1:1: version: is required",
      'manifest.yaml:2:1: versoin: unknown key "versoin" (did you mean "version"?)',
      "manifest.yaml:4:7: port: must be a port number (1-65535)",
      "manifest.yaml:5:11: env.A: must be a string, number or boolean",
    ]);
    expect(problems("version: 1.10\ncommand: ''\n")).toEqual([
      "manifest.yaml:1:1: name: is required",
      'manifest.yaml:1:10: version: must be a string like "1.2.3" (quote it: 1.10 is the number 1.1)',
      "manifest.yaml:2:10: command: must not be empty",
    ]);
    expect(problems("name: app\nversion: '1'\n")).toEqual(["manifest.yaml:1:1: command: is required"]);
    expect(problems("name: app\nversion: '1'\ncommand: x\nhealth_check: { type: nope }\n")).toEqual(["manifest.yaml:4:23: health_check.type: must be one of tcp, http, command, process"]);
  });

  test("not YAML, not a mapping, two documents, a repeated key", () => {
    expect(problems("name: [app\n")).toEqual([expect.stringMatching(/^manifest\.yaml:\d+:\d+: invalid YAML: /)]);
    expect(problems("- a\n- b\n")).toEqual(["manifest.yaml:1:1: must be a mapping like name: app, version: 1.2.3, command: bin/app"]);
    expect(problems("name: a\n---\nname: b\n")).toEqual(["manifest.yaml:2:1: expected one YAML document, found 2 (separated by ---)"]);
    expect(problems("name: a\nname: b\nversion: '1'\ncommand: x\n")).toEqual([expect.stringMatching(/^manifest\.yaml:2:1: invalid YAML: Map keys must be unique/)]);
  });

  test("the message is one line naming the tarball; the rest are in problems", () => {
    const path = pack({ "manifest.yaml": "name: app\nverson: 1\n" });
    const e = refusal(path);
    expect(e.message).toBe(`${path}: manifest.yaml:1:1: version: is required (and 2 more)`);
    expect(e.message).not.toContain("\n");
  });
});
