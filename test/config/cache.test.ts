// The project cache: a hit is the same Project as a full load; every change to what the load read is a miss.
// A hit is told apart from a full load by marking the cached project (maxParallel 4242) after it is written.
import { describe, expect, test } from "bun:test";
import { deserialize, serialize } from "bun:jsc";
import { copyFileSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashOf } from "../../src/config/inputs.ts";
import { loadProject } from "../../src/config/load.ts";
import type { Env } from "../../src/config/interpolate.ts";
import type { Project } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";
import { REPO, type TempProject, sv, tempProject } from "../helpers/project.ts";

const MARK = 4242;
const cacheFile = (root: string, stateDir = ".sv") => join(root, stateDir, "cache/project.cache");

/** The cache file of `root`: its header (the key) and the Project. */
function readCache(root: string, stateDir?: string): { header: Record<string, any>; project: Record<string, any> } {
  const bytes = readFileSync(cacheFile(root, stateDir));
  const newline = bytes.indexOf(10);
  return { header: JSON.parse(bytes.toString("utf8", 0, newline)), project: deserialize(bytes.subarray(newline + 1)) };
}

/** Edit the cache file of `root` with `edit`, keeping it well-formed. */
function editCache(root: string, edit: (header: Record<string, any>, project: Record<string, any>) => void, stateDir?: string): void {
  const { header, project } = readCache(root, stateDir);
  edit(header, project);
  const data = serialize(project, { binaryType: "nodebuffer" });
  header.data = hashOf(data);
  writeFileSync(cacheFile(root, stateDir), Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data]));
}

/** Load `p` (writing the cache), mark the cached project, and check that the next load is a hit. */
async function prime(p: TempProject, env: Env = {}, stateDir?: string): Promise<void> {
  await loadProject(p.root, env);
  editCache(p.root, (_header, project) => (project.maxParallel = MARK), stateDir);
  expect(isHit(await loadProject(p.root, env))).toBe(true);
}

const isHit = (project: Project) => project.maxParallel === MARK;

describe("a hit is the project a full load gives", () => {
  test("the example stack", async () => {
    const files = Object.fromEntries(readdirSync(join(REPO, "services")).filter((f) => f.endsWith(".yml")).map((f) => [`services/${f}`, readFileSync(join(REPO, "services", f), "utf8")]));
    const p = tempProject(files);
    const fresh = await loadProject(p.root, {});
    expect(statSync(cacheFile(p.root)).mode & 0o777).toBe(0o600); // it holds what env files expand to
    const cached = await loadProject(p.root, {});
    expect(cached).toStrictEqual(fresh);
    expect(Bun.deepEquals(cached, fresh, true)).toBe(true);
    expect([...cached.services.keys()]).toEqual(["api", "db", "migrate", "worker"]);
    await prime(p);
  });

  test("a project using every key, inline and included services, undefined values, the longest duration (1 year) and -0", async () => {
    const p = tempProject({
      "sv.yml": [
        "include: [extra/one.yml, 'more/*.yml']",
        "state_dir: ${STATE:-var/sv}",
        "max_parallel: 3",
        "default_timeout: 90s",
        "api:",
        "  listen: 127.0.0.1:9999",
        "  tokens: [{ token: abcdefghijklmnopqrstuvwxyz, role: operate }, { token_file: secrets/token }]",
        "  tls: { cert: tls/cert.pem, key: tls/key.pem }",
        "  allow_insecure: true",
        "services:",
        "  inline: { command: [sleep, 5], type: on-demand }",
      ].join("\n"),
      "services/api.yml": [
        "description: API ${WHO}",
        "type: simple",
        "command: bun run server.ts",
        "cwd: ./api",
        "env: { LOG_LEVEL: debug, N: 3, ON: true }",
        "env_file: [.env, .env.local]",
        "user: www-data",
        "group: www-data",
        "instances: 2",
        "port: 8080",
        "depends_on: { db: { condition: healthy }, job: { condition: completed }, inline: }",
        "after: [one]",
        "before: [two]",
        "health_check: { type: http, url: 'http://127.0.0.1:8080/health', expected_status: 204, interval: 2s, timeout: 1s, retries: 5, start_period: 3s }",
        "restart: always",
        "restart_delay: 250ms",
        "restart_max_delay: 2m",
        "max_restarts: 0",
        "retry_after_error: true",
        "start_delay: -0",
        "notify_delay: 1s",
        "stop_signal: int",
        "stop_timeout: 8760h",
        "limits: { memory: 512M, nofile: 4096, nproc: 64 }",
        "log: { max_size: 1M, keep: 2 }",
        "on_failure: [{ webhook: 'http://127.0.0.1:9000/alerts' }, { command: [./page.sh, api] }]",
        "hooks: { pre_start: echo a, post_start: [echo, b], pre_stop: echo c, post_stop: echo d }",
      ].join("\n"),
      "services/db.yaml": "command: db\nport: 5432\nhealth_check: { host: localhost }\n",
      "services/job.yml": "type: oneshot\ncommand: [migrate]\nhealth_check: { command: 'test -f done', expected_exit_code: 1 }\n",
      "extra/one.yml": "command: one\nhealth_check: { interval: 5s }\n",
      "more/two.yml": "services:\n  two: { command: two, type: multi-shot }\n  three: { command: three }\n",
      ".env": "A=1\nB=${A}-${HOME_DIR:-none}\n",
      ".env.local": "export C='literal ${X}'\n",
    });
    const env = { WHO: "me" };
    const fresh = await loadProject(p.root, env);
    expect(fresh.services.get("api")!.stopTimeoutMs).toBe(31_536_000_000);
    expect(Object.is(fresh.services.get("api")!.startDelayMs, -0)).toBe(true);
    expect(fresh.services.get("api")!.env).toEqual({ A: "1", B: "1-none", C: "literal ${X}", LOG_LEVEL: "debug", N: "3", ON: "true" });
    expect(existsSync(cacheFile(p.root, "var/sv"))).toBe(true);
    const cached = await loadProject(p.root, env);
    expect(cached).toStrictEqual(fresh);
    expect(Bun.deepEquals(cached, fresh, true)).toBe(true);
    expect([...cached.services.keys()]).toEqual(["inline", "api", "db", "job", "one", "two", "three"]);
    await prime(p, env, "var/sv");
  });
});

describe("a change to what the load read is a miss", () => {
  test("a service file edited", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    p.write("services/api.yml", "command: abc\n");
    const project = await loadProject(p.root, {});
    expect([isHit(project), project.services.get("api")!.command]).toEqual([false, "abc"]);
  });

  test("a service file edited keeping its size and mtime (within the same second)", async () => {
    const p = tempProject({ "services/api.yml": "command: aaa\n" });
    const file = join(p.root, "services/api.yml");
    const second = Math.floor(Date.now() / 1000);
    utimesSync(file, second, second);
    await prime(p);
    const before = statSync(file, { bigint: true });
    writeFileSync(file, "command: bbb\n");
    utimesSync(file, second, second);
    const after = statSync(file, { bigint: true });
    expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino]);
    const project = await loadProject(p.root, {});
    expect([isHit(project), project.services.get("api")!.command]).toEqual([false, "bbb"]);
  });

  test("a file changed just before the load that cached it is compared by its text, not only its stat", async () => {
    // Within one tick of a coarse file system clock an edit may leave size, mtime and ctime as they were.
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    const file = join(p.root, "services/api.yml");
    editCache(p.root, (header) => {
      const stamp = header.files.find(([path]: [string]) => path === file)[1];
      expect(stamp[1]).toBeString();
      stamp[1] = "another text";
    });
    expect(isHit(await loadProject(p.root, {}))).toBe(false);
  });

  test("a file replaced by a copy with the same text, size and mtime (a new inode)", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    const file = join(p.root, "services/api.yml");
    const { atime, mtime } = statSync(file);
    copyFileSync(file, `${file}.new`);
    utimesSync(`${file}.new`, atime, mtime);
    renameSync(`${file}.new`, file);
    expect(isHit(await loadProject(p.root, {}))).toBe(false);
  });

  test("a service file added or removed; a file that is not a service changes nothing", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    p.write("services/notes.txt", "x");
    p.write("services/.hidden.yml", "x");
    expect(isHit(await loadProject(p.root, {}))).toBe(true);
    p.write("services/db.yaml", "command: b\n");
    expect([...(await loadProject(p.root, {})).services.keys()]).toEqual(["api", "db"]);
    await prime(p);
    rmSync(join(p.root, "services/api.yml"));
    const project = await loadProject(p.root, {});
    expect([isHit(project), [...project.services.keys()]]).toEqual([false, ["db"]]);
  });

  test("a variable used by ${VAR} changed, unset or set; another variable changes nothing", async () => {
    const p = tempProject({ "services/api.yml": "command: a\nport: ${PORT}\ndescription: ${DESC:-none}\n" });
    await prime(p, { PORT: "80", OTHER: "1" });
    expect(isHit(await loadProject(p.root, { PORT: "80", OTHER: "2" }))).toBe(true);
    expect((await loadProject(p.root, { PORT: "81" })).services.get("api")!.port).toBe(81);
    await prime(p, { PORT: "81" });
    const project = await loadProject(p.root, { PORT: "81", DESC: "set now" });
    expect([isHit(project), project.services.get("api")!.description]).toEqual([false, "set now"]);
    await prime(p, { PORT: "81", DESC: "set now" });
    expect((await loadProject(p.root, { PORT: "81" })).services.get("api")!.description).toBe("none");
  });

  test("an env_file edited, or a variable it expands changed; a key it defines itself is not looked up", async () => {
    const p = tempProject({ "services/api.yml": "command: a\nenv_file: .env\n", ".env": "A=1\nB=${A}${SUFFIX:-}\n" });
    await prime(p);
    expect(isHit(await loadProject(p.root, { A: "from the environment" }))).toBe(true);
    const project = await loadProject(p.root, { SUFFIX: "!" });
    expect([isHit(project), project.services.get("api")!.env]).toEqual([false, { A: "1", B: "1!" }]);
    await prime(p);
    p.write(".env", "A=2\nB=${A}\n");
    expect((await loadProject(p.root, {})).services.get("api")!.env).toEqual({ A: "2", B: "2" });
  });

  test("sv.yml edited, created or removed", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    p.write("sv.yml", "max_parallel: 2\n");
    expect((await loadProject(p.root, {})).maxParallel).toBe(2);
    await prime(p);
    p.write("sv.yml", "max_parallel: 3\n");
    expect((await loadProject(p.root, {})).maxParallel).toBe(3);
    await prime(p);
    rmSync(join(p.root, "sv.yml"));
    expect((await loadProject(p.root, {})).maxParallel).toBe(32);
  });

  test("an included file edited; a file added to an included glob", async () => {
    const p = tempProject({ "sv.yml": "include: [extra.yml, 'more/*.yml']\n", "extra.yml": "command: a\n" });
    await prime(p);
    p.write("extra.yml", "command: abc\n");
    expect((await loadProject(p.root, {})).services.get("extra")!.command).toBe("abc");
    await prime(p);
    p.write("more/b.yml", "command: b\n");
    expect([...(await loadProject(p.root, {})).services.keys()]).toEqual(["extra", "b"]);
  });

  test("a cache written by another version of sv", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    editCache(p.root, (header) => (header.program = header.program.replace(/^sv \S+/, "sv 0.0.0-other")));
    expect(isHit(await loadProject(p.root, {}))).toBe(false);
  });

  test("another state_dir, from a variable: the cache lives in the state dir in use", async () => {
    const p = tempProject({ "sv.yml": "state_dir: ${STATE:-.sv}\n", "services/api.yml": "command: a\n" });
    await prime(p, { STATE: "one" }, "one");
    expect(existsSync(cacheFile(p.root))).toBe(false);
    const project = await loadProject(p.root, { STATE: "two" });
    expect([isHit(project), project.stateDir]).toEqual([false, join(p.root, "two")]);
    expect(existsSync(cacheFile(p.root, "two"))).toBe(true);
    expect(isHit(await loadProject(p.root, { STATE: "one" }))).toBe(true);
  });
});

describe("what is never cached or read from the cache", () => {
  test("a corrupt or foreign cache file is ignored and rewritten", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    for (const junk of ["", "{not json", "null", "[]", '{"format":1}', '{"format":1,"program":7,"files":3}']) {
      await loadProject(p.root, {});
      writeFileSync(cacheFile(p.root), junk);
      const project = await loadProject(p.root, {});
      expect([...project.services.keys()]).toEqual(["api"]);
      expect(readCache(p.root).project.root).toBe(p.root);
    }
  });

  test("a cache with the right key and damaged or mangled data is ignored", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    const bytes = readFileSync(cacheFile(p.root));
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(cacheFile(p.root), bytes);
    expect(isHit(await loadProject(p.root, {}))).toBe(false);
    await prime(p);
    editCache(p.root, (_header, project) => (project.services = 5));
    expect(isHit(await loadProject(p.root, {}))).toBe(false);
  });

  test("a config with problems writes no cache, and a cached one does not hide new problems", async () => {
    const p = tempProject({ "services/api.yml": "command: a\nport: 0\n" });
    await expect(loadProject(p.root, {})).rejects.toThrow(ConfigError);
    expect(existsSync(cacheFile(p.root))).toBe(false);
    p.write("services/api.yml", "command: a\n");
    await prime(p);
    p.write("services/api.yml", "command: a\nport: 0\n");
    const error = await loadProject(p.root, {}).catch((e: ConfigError) => e);
    expect((error as ConfigError).problems).toEqual(["services/api.yml:2:7: port: must be a port number (1-65535)"]);
  });

  test("a project including a URL is never cached", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("command: remote\n") });
    try {
      const p = tempProject({ "sv.yml": `include: [http://127.0.0.1:${server.port}/remote.yml]\n`, "services/api.yml": "command: a\n" });
      expect([...(await loadProject(p.root, {})).services.keys()]).toEqual(["api", "remote"]);
      expect(existsSync(cacheFile(p.root))).toBe(false);
    } finally {
      server.stop(true);
    }
  });

  test("strict (sv validate) always does the full load", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    await prime(p);
    expect(isHit(await loadProject(p.root, {}, { strict: true }))).toBe(false);
  });
});

describe("the compiled sv", () => {
  test("sv list writes the cache and sees every edit; sv validate reports what the cache cannot see", async () => {
    const p = tempProject({ "services/api.yml": "command: a\n" });
    const names = async () => JSON.parse((await sv(p.root, ["list", "--json"])).stdout).services.map((s: { name: string }) => s.name);
    expect(await names()).toEqual(["api"]);
    expect(existsSync(cacheFile(p.root))).toBe(true);
    expect(await names()).toEqual(["api"]);
    p.write("services/db.yml", "command: b\n");
    expect(await names()).toEqual(["api", "db"]);
    p.write("services/db.yml", "command: b\ncommand: c\n");
    expect(await names()).toEqual(["api", "db"]);
    const r = await sv(p.root, ["validate"]);
    expect([r.code, r.stderr]).toEqual([2, "services/db.yml:2:1: command: duplicate key (first at line 1)\n✘ the configuration has a problem\n"]);
  });
});
