// Writes through planted links (issue 7): a state dir that is not sv's own, or a link or hard link planted
// in it, is refused in one line naming the path and its owner — and the victim file is never touched.
// The victims are files this test creates outside the project; the links are real symlinks and hard links.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rotateLog } from "../../src/runtime/logs/rotate.ts";
import { type TempProject, sv, tempProject } from "../helpers/project.ts";

const VICTIM_TEXT = "root-only content that sv must never touch\n".repeat(200);
const NOBODY = 65534;

const victimDirs: string[] = [];
afterEach(() => {
  for (const d of victimDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A root-only file outside the project. */
function victim(): string {
  const dir = mkdtempSync(join(tmpdir(), "sv-victim-"));
  victimDirs.push(dir);
  const file = join(dir, "secret");
  writeFileSync(file, VICTIM_TEXT, { mode: 0o600 });
  return file;
}

function project(): TempProject {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  return p;
}

const untouched = (file: string) => expect(readFileSync(file, "utf8")).toBe(VICTIM_TEXT);

describe("a link planted in the state dir is refused, its target untouched", () => {
  const cases: [string, string, string][] = [
    ["the lock file", ".sv/state/lock", "✘ refusing .sv/state/lock: it is a symbolic link (owned by uid 0 (root))"],
    ["a service's log", ".sv/log/web.log", "✘ web: refusing .sv/log/web.log: it is a symbolic link (owned by uid 0 (root))"],
    ["the events file", ".sv/events.jsonl", "✘ refusing .sv/events.jsonl: it is a symbolic link (owned by uid 0 (root))"],
  ];
  for (const [what, path, message] of cases) {
    test(what, async () => {
      const p = project();
      const target = victim();
      mkdirSync(join(p.root, path, ".."), { recursive: true });
      symlinkSync(target, join(p.root, path));
      const r = await sv(p.root, ["up"]);
      // A service's own failure is its line of the progress (stdout); the command's is on stderr with a hint.
      if (message.startsWith("✘ web:")) expect([r.stdout.trim(), r.stderr]).toEqual([message, "✘ up: 1 of 1 service failed\n"]);
      else expect(r.stderr).toStartWith(`${message}\n  hint: remove it;`);
      expect(r.stderr).not.toContain("internal error");
      expect(r.code).toBe(1);
      untouched(target);
      expect(lstatSync(join(p.root, path)).isSymbolicLink()).toBe(true);
      // Nothing half-made: nothing runs and, for the events file, no state was written without its events.
      const status = JSON.parse((await sv(p.root, ["status", "--json"])).stdout || "{}");
      if (path !== ".sv/events.jsonl") expect(status.services?.[0]?.state ?? "stopped").not.toBe("running");
    });
  }

  test("the events file: the state is not written when its events would be refused", async () => {
    const p = project();
    mkdirSync(join(p.root, ".sv"), { recursive: true });
    symlinkSync(victim(), join(p.root, ".sv/events.jsonl"));
    expect((await sv(p.root, ["up"])).code).toBe(1);
    expect(existsSync(join(p.root, ".sv/state/services.yml"))).toBe(false);
  });

  test("a hard link to another file as a log is refused", async () => {
    const p = project();
    const target = victim();
    mkdirSync(join(p.root, ".sv/log"), { recursive: true });
    linkSync(target, join(p.root, ".sv/log/web.log"));
    const r = await sv(p.root, ["up"]);
    expect(r.stdout.trim()).toBe("✘ web: refusing .sv/log/web.log: it has 2 hard links");
    expect(r.code).toBe(1);
    untouched(target);
  });

  test("the store's temp file and the cache are replaced, never written through", async () => {
    const p = project();
    const [tmpVictim, cacheVictim] = [victim(), victim()];
    mkdirSync(join(p.root, ".sv/state"), { recursive: true, mode: 0o700 });
    mkdirSync(join(p.root, ".sv/cache"), { recursive: true, mode: 0o700 });
    symlinkSync(tmpVictim, join(p.root, ".sv/state/services.yml.tmp"));
    symlinkSync(cacheVictim, join(p.root, ".sv/cache/project.cache"));
    symlinkSync(cacheVictim, join(p.root, ".sv/cache/project.cache.tmp"));
    const r = await sv(p.root, ["up"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    untouched(tmpVictim);
    untouched(cacheVictim);
    expect(existsSync(join(p.root, ".sv/state/services.yml.tmp"))).toBe(false);
    expect(lstatSync(join(p.root, ".sv/cache/project.cache")).isFile()).toBe(true);
    // The store holds the services' env (secrets): only its owner may read it.
    expect(lstatSync(join(p.root, ".sv/state/services.yml")).mode & 0o777).toBe(0o600);
  });

  test("rotation of a log that became a link neither cuts the target nor copies it", () => {
    const dir = mkdtempSync(join(tmpdir(), "sv-rotate-link-"));
    victimDirs.push(dir);
    const target = victim();
    symlinkSync(target, join(dir, "web.log"));
    expect(rotateLog(join(dir, "web.log"), 1024, 3)).toEqual({ rotated: false });
    untouched(target);
    expect(existsSync(join(dir, "web.log.1"))).toBe(false);
  });
});

describe("a state dir that is not sv's own is refused", () => {
  test("owned by another user", async () => {
    const p = project();
    mkdirSync(join(p.root, ".sv"));
    chownSync(join(p.root, ".sv"), NOBODY, NOBODY);
    const r = await sv(p.root, ["up"]);
    expect(r.stderr).toBe("✘ refusing .sv: it is owned by uid 65534 (nobody), and sv runs as uid 0 (root)\n  hint: chown -R 0 .sv, or run sv as its owner\n");
    expect(r.code).toBe(1);
  });

  test("a log dir writable by its group", async () => {
    const p = project();
    mkdirSync(join(p.root, ".sv/log"), { recursive: true });
    chmodSync(join(p.root, ".sv/log"), 0o775);
    const r = await sv(p.root, ["up"]);
    expect(r.stdout.trim()).toBe("✘ web: refusing .sv/log: it is writable by its group (mode 775)");
    expect(r.code).toBe(1);
  });

  test("world-writable", async () => {
    const p = project();
    mkdirSync(join(p.root, ".sv"));
    chmodSync(join(p.root, ".sv"), 0o1777);
    const r = await sv(p.root, ["up"]);
    expect(r.stderr).toBe("✘ refusing .sv: it is writable by others (mode 1777)\n  hint: chmod go-w .sv\n");
    expect(r.code).toBe(1);
  });

  test("a symbolic link", async () => {
    const p = project();
    const elsewhere = mkdtempSync(join(tmpdir(), "sv-elsewhere-"));
    victimDirs.push(elsewhere);
    symlinkSync(elsewhere, join(p.root, ".sv"));
    const r = await sv(p.root, ["up"]);
    expect(r.stderr.split("\n")[0]).toBe("✘ refusing .sv: it is a symbolic link (owned by uid 0 (root))");
    expect(r.code).toBe(1);
    expect(existsSync(join(elsewhere, "state"))).toBe(false);
  });

  test("a state_dir that is not a directory (/dev/null)", async () => {
    const p = project();
    p.write("sv.yml", "state_dir: /dev/null\n");
    const r = await sv(p.root, ["up"]);
    expect(r.stderr).toBe("✘ refusing /dev/null: it is not a directory\n  hint: remove it, or set state_dir: in sv.yml to a directory\n");
    expect(r.code).toBe(1);
  });
});
