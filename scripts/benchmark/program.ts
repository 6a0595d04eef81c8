// The one tiny TCP service every tool runs: server.c compiled with cc, else server.pl, else server.py.
import { chmodSync, copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

export type ProgramKind = "c" | "perl" | "python3";
export const PROGRAM_KINDS: ProgramKind[] = ["c", "perl", "python3"];

export interface ServiceProgram {
  kind: ProgramKind;
  /** One line for the report: what runs and why. */
  describe: string;
  /** Put a private copy into `dir` (so /proc cmdlines tell the tools apart); returns its path. */
  install(dir: string): string;
  /** argv for one service listening on `port`, given the installed path. */
  argv(installed: string, port: number): string[];
}

const HERE = import.meta.dir;

/** /usr/bin/python3 before PATH: a pyenv shim on PATH costs ~150 ms per start. */
function findPython(): string | null {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : Bun.which("python3");
}

/** Compile server.c into `workDir`: the binary's path, or why it could not be built. */
function compileC(workDir: string): { path: string } | { error: string } {
  const cc = Bun.which("cc") ?? Bun.which("gcc");
  if (!cc) return { error: "no C compiler (cc/gcc) on PATH" };
  mkdirSync(workDir, { recursive: true });
  const path = join(workDir, "server");
  const r = Bun.spawnSync([cc, "-O2", "-o", path, join(HERE, "server.c")], { stdio: ["ignore", "pipe", "pipe"] });
  if (r.exitCode !== 0) return { error: `cc failed: ${r.stderr.toString().trim().split("\n").slice(-2).join(" ")}` };
  return { path };
}

/** The preferred program, or the first that works here in the order c, perl, python3. */
export function prepareProgram(preferred: ProgramKind | undefined, workDir: string): { program: ServiceProgram; notes: string[] } {
  const notes: string[] = [];
  for (const kind of preferred ? [preferred] : PROGRAM_KINDS) {
    if (kind === "c") {
      const built = compileC(workDir);
      if ("error" in built) {
        notes.push(`C service program unavailable: ${built.error}`);
        continue;
      }
      return {
        notes,
        program: {
          kind,
          describe: "C (scripts/benchmark/server.c, cc -O2): ready ~1 ms after exec, ~1 MB RSS, no interpreter",
          install: (dir) => copyExecutable(built.path, join(dir, "server")),
          argv: (path, port) => [path, String(port)],
        },
      };
    }
    const interpreter = kind === "perl" ? Bun.which("perl") : findPython();
    if (!interpreter) {
      notes.push(`${kind} service program unavailable: no ${kind} on PATH`);
      continue;
    }
    const file = kind === "perl" ? "server.pl" : "server.py";
    return {
      notes,
      program: {
        kind,
        describe: `${kind} (scripts/benchmark/${file} via ${interpreter}): an interpreter start per service (~${kind === "perl" ? 10 : 25} ms CPU)`,
        install: (dir) => copyExecutable(join(HERE, file), join(dir, file)),
        argv: (path, port) => [interpreter, path, String(port)],
      },
    };
  }
  throw new Error(`no service program can run here (${notes.join("; ")})`);
}

function copyExecutable(from: string, to: string): string {
  copyFileSync(from, to);
  chmodSync(to, 0o755);
  return to;
}
