// scripts/check-layers.ts: sv's own imports go one way, and the checker catches an upward import and a cycle.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, REPO, tempProject } from "./helpers/project.ts";

function checkLayers(...args: string[]): { exitCode: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([BUN, join(REPO, "scripts/check-layers.ts"), ...args], { cwd: REPO });
  return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test("src/ has no upward import and no import cycle (known ones are warnings)", () => {
  const r = checkLayers();
  expect(r.stderr).toBe("");
  expect(r.stdout).toContain("layers ok");
  expect(r.exitCode).toBe(0);
});

test("an upward import, an engine import of runtime/, a cycle and a file in no layer fail", () => {
  const p = tempProject({
    "src/main.ts": 'import "./commands/up.ts";\n',
    "src/commands/up.ts": "export type Up = string;\n",
    "src/engine/start.ts": '// import "../commands/up.ts" in a comment is not an import\nimport type { Up } from "../commands/up.ts";\nexport const run = () => import("../runtime/spawn.ts");\n',
    "src/runtime/spawn.ts": "export {};\n",
    "src/config/a.ts": 'export * from "./b.ts";\n',
    "src/config/b.ts": 'import type { A } from "./a.ts";\n',
    "src/stray/x.ts": "export {};\n",
  });
  const r = checkLayers(join(p.root, "src"));
  const src = join(p.root, "src");
  expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toEqual([
    `error: ${src}/stray/x.ts is in no layer (add its folder to LAYERS in scripts/check-layers.ts)`,
    `error: ${src}/engine/start.ts:2 imports ${src}/commands/up.ts: commands/ is above engine/`,
    `error: ${src}/engine/start.ts:3 imports ${src}/runtime/spawn.ts: the engine asks a backend; runtime/ is the backends' OS boundary`,
    `error: import cycle: ${src}/config/a.ts -> ${src}/config/b.ts -> ${src}/config/a.ts`,
  ]);
  expect(r.exitCode).toBe(1);
});
