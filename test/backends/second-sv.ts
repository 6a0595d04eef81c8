// The body of a second-sv script: another sv process for a contract run, sharing nothing in memory with
// the test. Imports nothing of the test runner (it runs under plain bun).
import type { Backend } from "../../src/backends/backend.ts";

/**
 * The body of a second-sv script, sharing nothing in memory with the test:
 *   start ROOT REQUEST        start a unit, print its handle, and wait (unreleased) to be killed
 *   inspect ROOT UNIT HANDLE  print what a fresh backend sees of the unit
 */
export async function runSecondSv(backendOf: (root: string) => Backend, argv: string[]): Promise<void> {
  const [mode, root, first, second] = argv;
  const backend = backendOf(root!);
  if (mode === "start") {
    const started = await backend.start(JSON.parse(first!));
    process.stdout.write(`${JSON.stringify(started.handle)}\n`);
    // Stay alive, holding the gate shut, until the test kills this process (bounded, should it never).
    setTimeout(() => process.exit(1), 30_000);
  } else if (mode === "inspect") {
    process.stdout.write(`${JSON.stringify(await backend.inspect(first!, JSON.parse(second!)))}\n`);
  } else {
    throw new Error(`second sv: unknown mode ${mode}`);
  }
}
