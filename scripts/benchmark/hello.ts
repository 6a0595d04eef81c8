// The floor under sv's status time: a compiled Bun hello world, the least a `bun build --compile` binary can cost.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./proc.ts";

/** `bun build --compile` of a one-line console.log into `workDir`: the binary's path, or why it could not be built. */
export async function buildHello(workDir: string): Promise<{ path: string } | { error: string }> {
  mkdirSync(workDir, { recursive: true });
  const entry = join(workDir, "hello.ts");
  const path = join(workDir, "hello");
  writeFileSync(entry, 'console.log("hello");\n');
  // process.execPath is the bun running this benchmark, the same version that builds dist/sv.
  const r = await run([process.execPath, "build", "--compile", entry, "--outfile", path], { cwd: workDir, timeoutMs: 120_000 });
  if (r.code !== 0) return { error: `bun build --compile failed: ${`${r.stderr}\n${r.stdout}`.trim().split("\n").slice(-2).join(" ")}` };
  const check = await run([path], { timeoutMs: 10_000 });
  if (check.code !== 0 || check.stdout.trim() !== "hello") return { error: `the compiled hello world printed ${JSON.stringify(check.stdout.slice(0, 50))} (code ${check.code})` };
  return { path };
}
