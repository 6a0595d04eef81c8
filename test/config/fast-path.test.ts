// The fast path: a valid config never loads the `yaml` package (start-up time is a product target).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, REPO, tempProject } from "../helpers/project.ts";

/** Load `root` in a fresh bun process; report whether the yaml package (or positions.ts) got imported. */
async function loadsYaml(root: string, strict = false): Promise<boolean> {
  const script = `
    const { loadProject } = await import(${JSON.stringify(join(REPO, "src/config/load.ts"))});
    try { await loadProject(${JSON.stringify(root)}, {}, { strict: ${strict} }); } catch {}
    console.log(Object.keys(require.cache).some((k) => k.includes("/node_modules/yaml/") || k.endsWith("/positions.ts")));`;
  const proc = Bun.spawn([BUN, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return (await new Response(proc.stdout).text()).trim() === "true";
}

test("a valid project loads without the yaml package; problems and strict mode use it", async () => {
  const p = tempProject({
    "sv.yml": "services:\n  web: { command: w, depends_on: [api] }\n",
    "services/api.yml": "command: x\nport: ${P:-8080}\nhealth_check: { url: 'http://127.0.0.1:8080/' }\n",
  });
  expect(await loadsYaml(p.root)).toBe(false);
  expect(await loadsYaml(p.root, true)).toBe(true);
  p.write("services/db.yml", "command: y\nport: 0\n");
  expect(await loadsYaml(p.root)).toBe(true);
});

/** Load `root` in a fresh bun process; the modules it imported from the repo and node_modules that match `pattern`. */
async function importsMatching(root: string, pattern: RegExp): Promise<string[]> {
  const script = `
    const { loadProject } = await import(${JSON.stringify(join(REPO, "src/config/load.ts"))});
    await loadProject(${JSON.stringify(root)}, {});
    console.log(JSON.stringify(Object.keys(require.cache)));`;
  const proc = Bun.spawn([BUN, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const modules: string[] = JSON.parse(await new Response(proc.stdout).text());
  return modules.filter((m) => pattern.test(m)).map((m) => m.replace(REPO, ""));
}

test("a load from the cache imports neither valibot nor the schemas nor the full loader", async () => {
  const p = tempProject({
    "sv.yml": "state_dir: ${STATE:-.sv}\nservices:\n  web: { command: w, depends_on: [api] }\n",
    "services/api.yml": "command: x\nport: ${P:-8080}\nhealth_check: { url: 'http://127.0.0.1:8080/' }\n",
  });
  const heavy = /\/node_modules\/(valibot|yaml)\/|\/src\/config\/(load-full|schema|fields|normalize|validate|problems|positions)\.ts$/;
  expect(await importsMatching(p.root, heavy)).toContain("/src/config/load-full.ts"); // no cache yet: the full load
  expect(await importsMatching(p.root, heavy)).toEqual([]);
});
