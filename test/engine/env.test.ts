// What a service process is given: sv's variables, dependency addresses, its own env and env_file, its cwd.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, fixture, freePort, isListening, sv, tempProject } from "../helpers/project.ts";

type Dump = { cwd: string; env: Record<string, string> };
const dump = (root: string, unit: string): Dump => JSON.parse(readFileSync(join(root, "out", `${unit}.json`), "utf8"));

test("SV_SERVICE, SV_INSTANCE, PORT, DB_HOST/DB_PORT/DB_ADDR, env, env_file and cwd", async () => {
  const dbPort = freePort();
  const webPort = freePort();
  const p = tempProject({
    "out/.keep": "",
    "app/.keep": "",
    ".env": "FROM_FILE=file-value\nexport QUOTED=\"a b\"\n# a comment\nSHARED=from-file\n",
    "more.env": "SECOND_FILE=yes\n",
  });
  const out = join(p.root, "out");
  p.write("services/db.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port: dbPort }));
  p.write("services/cache-store.yml", JSON.stringify({ command: [BUN, fixture("tcp-server.ts")], port: freePort() }));
  p.write(
    "services/web.yml",
    JSON.stringify({
      command: [BUN, fixture("env-dump.ts"), out, "serve"],
      port: webPort,
      cwd: "./app",
      env: { OWN: "own", SHARED: "from-env" },
      env_file: [".env", "more.env"],
      depends_on: ["db", "cache-store"],
    }),
  );
  p.write("services/batch.yml", JSON.stringify({ type: "oneshot", command: [BUN, fixture("env-dump.ts"), out], instances: 2 }));

  const up = await sv(p.root, ["up"]);
  expect(up.stderr).toBe("");
  expect(up.code).toBe(0);
  expect(await isListening(webPort)).toBe(true);

  const web = dump(p.root, "web.0");
  expect(web.cwd).toBe(join(p.root, "app"));
  expect(web.env).toMatchObject({
    SV_SERVICE: "web",
    SV_INSTANCE: "0",
    PORT: String(webPort),
    DB_HOST: "127.0.0.1",
    DB_PORT: String(dbPort),
    DB_ADDR: `127.0.0.1:${dbPort}`,
    CACHE_STORE_HOST: "127.0.0.1",
    OWN: "own",
    FROM_FILE: "file-value",
    QUOTED: "a b",
    SECOND_FILE: "yes",
  });
  // env: wins over env_file.
  expect(web.env.SHARED).toBe("from-env");

  for (const i of [0, 1]) {
    const b = dump(p.root, `batch.${i}`);
    expect(b.cwd).toBe(p.root);
    expect(b.env).toMatchObject({ SV_SERVICE: "batch", SV_INSTANCE: String(i) });
    // No port of its own, no dependencies: no PORT, no addresses.
    expect(b.env.PORT).toBeUndefined();
    expect(Object.keys(b.env).filter((k) => k.startsWith("DB_"))).toEqual([]);
  }
  expect((await sv(p.root, ["down"])).code).toBe(0);
});
