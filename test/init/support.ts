// What the `sv init` tests share: the compiled sv as PID 1 of a new PID namespace (unshare --pid --fork
// --mount-proc), its output as it comes, the processes of that namespace as seen from here, and how it exited.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { SV, killAfterTest, waitFor } from "../helpers/project.ts";

export interface InitRun {
  /** Host pid of the namespace's PID 1 (sv, or the shell that execs it). */
  pid: number;
  stdout(): string;
  stderr(): string;
  waitOutput(re: RegExp, message: string, timeoutMs?: number): Promise<void>;
  signal(sig: NodeJS.Signals): void;
  /** Exit code and when it came (performance.now()). */
  done: Promise<{ code: number; at: number }>;
}

/**
 * `sv init ARGS` as PID 1 of a new PID namespace, in `root`. With `shell`, PID 1 is first `sh -c SHELL` (which
 * ends by exec'ing sv: "$@" holds the sv command), for mounts of its own. Killed after the test.
 */
export async function startInit(root: string, args: string[] = [], opts: { env?: Record<string, string>; shell?: string } = {}): Promise<InitRun> {
  const sv = [SV, "init", ...args];
  const inner = opts.shell ? ["/bin/sh", "-c", opts.shell, "sh", ...sv] : sv;
  const proc = Bun.spawn(["unshare", "--pid", "--fork", "--mount-proc", ...inner], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", CI: "true", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  killAfterTest(proc.pid);
  let out = "";
  let err = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  };
  const pumped = Promise.all([pump(proc.stdout, (s) => (out += s)), pump(proc.stderr, (s) => (err += s))]);
  const done = proc.exited.then(async (code) => {
    const at = performance.now();
    await pumped;
    return { code, at };
  });
  const pid = await waitFor(() => Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "latin1").trim().split(" ")[0]) || null, "unshare to fork the namespace's PID 1");
  killAfterTest(pid);
  return {
    pid,
    stdout: () => out,
    stderr: () => err,
    async waitOutput(re, message, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out + err)) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}; sv init printed:\n${out}\n--- stderr:\n${err}`);
        await Bun.sleep(20);
      }
    },
    signal: (sig) => {
      try {
        process.kill(pid, sig);
      } catch {}
    },
    done,
  };
}

export interface NsProcess {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

/** Every process in the PID namespace of host pid `init` (itself included), from this side's /proc. */
export function nsProcesses(init: number): NsProcess[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${init}/ns/pid`);
  } catch {
    return [];
  }
  const out: NsProcess[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue;
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(name), ppid: Number(rest[1]), state: rest[0]!, comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {}
  }
  return out;
}

/** A shell service that says `NAME up`, and on SIGTERM waits `stopMs` before saying `NAME bye` and exiting 0. */
export function politeService(name: string, stopMs = 0, extra: Record<string, unknown> = {}): string {
  const pause = stopMs > 0 ? `sleep ${stopMs / 1000}; ` : "";
  return JSON.stringify({ command: `trap '${pause}echo ${name} bye; exit 0' TERM; echo ${name} up; while :; do sleep 0.1; done`, ...extra });
}
