// What the import tests share: a temp project holding a copy of one fixture under src/, and reading what sv import wrote.
import { cpSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, type TempProject, tempProject } from "../helpers/project.ts";

/** A fresh project with test/fixtures/import/<name> copied to src/ (the import rewrites its paths against the root). */
export function projectWith(name: string): TempProject {
  const p = tempProject();
  cpSync(join(FIXTURES, "import", name), join(p.root, "src"), { recursive: true });
  return p;
}

/** Every services/*.yml of a project: name -> text. */
export function serviceFiles(root: string): Record<string, string> {
  const dir = join(root, "services");
  return Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith(".yml")).sort().map((f) => [f.slice(0, -4), readFileSync(join(dir, f), "utf8")]));
}

/** One written service file, parsed. */
export function service(root: string, name: string): Record<string, any> {
  return Bun.YAML.parse(readFileSync(join(root, "services", `${name}.yml`), "utf8")) as Record<string, any>;
}

/** The unmapped lines sv import printed on stderr (file:line: key: why). */
export function unmappedLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /^\S+:\d+: /.test(l));
}
