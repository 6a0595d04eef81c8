// The way to a host: the system OpenSSH client (BatchMode, the project's known_hosts, strict host keys),
// one connection master per host (ControlMaster/ControlPersist, its socket under the state dir), so a
// command costs a few ms instead of a handshake. Every failure is one line naming the host.
import { type Subprocess, spawn } from "bun";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { HostSpec } from "../../config/hosts.ts";
import { SvError } from "../../errors.ts";
import type { Paths } from "../../paths.ts";
import { writeFresh } from "../../runtime/private-files.ts";
import { acquireLock } from "../../store/lock.ts";
import { Unreachable } from "../backend.ts";
import { shq } from "./shell.ts";

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** The host did not answer (connect timeout, no route, refused): its units are unknown, not dead. */
export class HostUnreachable extends Unreachable {
  readonly host: string;
  constructor(host: HostSpec, why: string, since: string) {
    super(`host ${host.name} (${host.address}) is unreachable: ${why}`, `host ${host.name}`, since, `check that ${host.address}:${host.port} answers ssh; sv status shows its services as unknown meanwhile`);
    this.name = "HostUnreachable";
    this.host = host.name;
  }
}

/** How long a master stays after its last use: warm for the next sv, gone after an idle while. */
const PERSIST = "10m";
/** unix socket paths are limited to 108 bytes (104 on some systems). */
const MAX_SOCKET_PATH = 100;

export class Transport {
  private masters = new Map<string, Promise<void>>();
  /** Hosts found unreachable by this process: not tried again before `until` (watch's backoff). */
  private backoff = new Map<string, { until: number; delayMs: number; error: HostUnreachable }>();

  constructor(private readonly paths: Paths) {}

  private get dir(): string {
    return join(this.paths.stateDir, "run", "ssh");
  }

  /** The options every ssh to `host` gets (also `sv hosts` and the tests' bare-ssh baseline). */
  options(host: HostSpec): string[] {
    const o = [
      "-F", "/dev/null",
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${host.knownHosts}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", `ConnectTimeout=${Math.max(1, Math.ceil(host.connectTimeoutMs / 1000))}`,
      "-o", "ServerAliveInterval=5",
      "-o", "ServerAliveCountMax=2",
      "-o", `ControlPath=${this.socketOf(host)}`,
      "-p", String(host.port),
    ];
    if (host.keyFile) o.push("-i", host.keyFile, "-o", "IdentitiesOnly=yes");
    if (host.user) o.push("-l", host.user);
    return o;
  }

  /**
   * Run `script` with sh on `host`: stdin as given, the result once it ends. The host must answer (the script's
   * first byte, sent before anything else it does) within the connect timeout and a second, however long the
   * work then takes (up to `timeoutMs`): so a host that went away is told from one that is busy, quickly.
   */
  async run(host: HostSpec, script: string, opts: { stdin?: Uint8Array | string; timeoutMs?: number } = {}): Promise<RunResult> {
    this.checkBackoff(host);
    await this.master(host);
    const proc = spawn(this.overMaster(host, `echo .\n${script}`), {
      stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
      stdout: "pipe",
      stderr: "pipe",
    });
    let answered = false;
    let timedOut: string | null = null;
    // A mux client hands its pipes to the master: killed, it leaves them open for as long as the master
    // lives, so the wait ends at the kill, not at the pipes' end.
    let expire!: () => void;
    const expired = new Promise<null>((resolve) => (expire = () => resolve(null)));
    const kill = (why: string) => {
      timedOut = why;
      proc.kill("SIGKILL");
      expire();
    };
    const answerMs = host.connectTimeoutMs + 1_000;
    const silence = setTimeout(() => answered || kill(`no answer within ${(answerMs / 1000).toFixed(1)} s`), answerMs);
    const limit = setTimeout(() => kill(`no end within ${((answerMs + (opts.timeoutMs ?? 10_000)) / 1000).toFixed(1)} s`), answerMs + (opts.timeoutMs ?? 10_000));
    const read = async () => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of proc.stdout) {
        answered = true;
        text += decoder.decode(chunk, { stream: true });
      }
      return text + decoder.decode();
    };
    const done = await Promise.race([Promise.all([read(), new Response(proc.stderr).text(), proc.exited]), expired]);
    clearTimeout(silence);
    clearTimeout(limit);
    if (done === null || timedOut !== null) {
      // A master whose connection died answers nothing: end it, so the next try connects afresh.
      if (!answered) this.dropMaster(host);
      if (!answered) throw this.unreachable(host, timedOut ?? "no answer");
      throw new SvError(`host ${host.name}: a command answered but did not end: ${timedOut}`, { hint: "is the host overloaded? sv tries again on its next look" });
    }
    const [raw, err, code] = done;
    if (code === 255 && !raw.startsWith(".")) throw this.failure(host, err);
    this.reachable(host);
    return { code, out: raw.startsWith(".\n") ? raw.slice(2) : raw, err };
  }

  /** A long-running command on `host` (a log follower): the caller reads and ends it. */
  async stream(host: HostSpec, script: string): Promise<Subprocess<"ignore", "pipe", "pipe">> {
    this.checkBackoff(host);
    await this.master(host);
    return spawn(this.overMaster(host, script), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  }

  /** Since when `host` has been unreachable (ISO), or null: read from the state dir, so across invocations. */
  unreachableSince(host: string): string | null {
    try {
      return readFileSync(join(this.dir, `${host}.down`), "utf8").trim() || null;
    } catch {
      return null;
    }
  }

  /** End every master this project has (sv down of everything; tests). */
  async closeAll(hosts: Iterable<HostSpec>): Promise<void> {
    await Promise.all([...hosts].map((h) => (existsSync(this.socketOf(h)) ? this.exitMaster(h).exited : undefined)));
  }

  /** The argv that runs `script` with sh on `host` over its master (or, when that is gone, a connection of its own). */
  private overMaster(host: HostSpec, script: string): string[] {
    return ["ssh", ...this.options(host), "-o", "ControlMaster=no", host.address, `sh -c ${shq(script)}`];
  }

  /** Ask the host's master to end (`ssh -O exit`, through its socket: it works with the network gone too). */
  private exitMaster(host: HostSpec) {
    return spawn(["ssh", ...this.options(host), "-O", "exit", host.address], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  }

  private socketOf(host: HostSpec): string {
    const path = join(this.dir, `${host.name}.sock`);
    if (path.length <= MAX_SOCKET_PATH) return path;
    const tag = createHash("sha256").update(this.paths.stateDir).digest("hex").slice(0, 12);
    return join(`/tmp/sv-ssh-${process.getuid?.() ?? 0}`, `${tag}-${host.name}.sock`);
  }

  /** Start the host's master once per process, unless one is already listening (another sv's). */
  private master(host: HostSpec): Promise<void> {
    let started = this.masters.get(host.name);
    if (!started) {
      started = this.startMaster(host).catch((e) => {
        this.masters.delete(host.name);
        throw e;
      });
      this.masters.set(host.name, started);
    }
    return started;
  }

  private async startMaster(host: HostSpec): Promise<void> {
    checkKeyFile(host);
    const socket = this.socketOf(host);
    if (await listening(socket)) return;
    mkdirSync(join(socket, ".."), { recursive: true, mode: 0o700 });
    // One sv starts it; another waiting here then finds it listening.
    const lock = await acquireLock(join(this.dir, `${host.name}.lock`), host.connectTimeoutMs + 5_000).catch(() => null);
    try {
      if (await listening(socket)) return;
      rmSync(socket, { force: true }); // a dead master's socket
      // -f: ssh forks once authenticated and the parent exits with the verdict. Its stderr goes to a file: a
      // pipe would be held open by the master for as long as it lives.
      const errFile = join(this.dir, `${host.name}.err`);
      writeFresh(errFile, "");
      const proc = spawn(["ssh", ...this.options(host), "-o", "ControlMaster=yes", "-o", `ControlPersist=${PERSIST}`, "-N", "-f", host.address], {
        stdin: "ignore",
        stdout: "ignore",
        stderr: Bun.file(errFile),
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        proc.kill("SIGKILL");
      }, host.connectTimeoutMs + 2_000);
      const code = await proc.exited;
      clearTimeout(timer);
      const err = readFileSync(errFile, "utf8");
      if (timedOut) throw this.unreachable(host, `no answer within ${(host.connectTimeoutMs / 1000 + 2).toFixed(1)} s`);
      if (code !== 0) throw this.failure(host, err);
      this.reachable(host);
    } finally {
      lock?.release();
    }
  }

  private dropMaster(host: HostSpec): void {
    this.masters.delete(host.name);
    this.exitMaster(host);
  }

  /** What ssh's exit 255 means, from its stderr: unreachable, or a mistake to fix (keys, auth). */
  private failure(host: HostSpec, stderr: string): SvError {
    const err = stderr.trim();
    const who = `${host.name} (${host.user ? `${host.user}@` : ""}${host.address}:${host.port})`;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(err)) {
      return mistake(`the host key of ${who} has changed since it was trusted: refusing to connect`, `if the host was reinstalled, remove its old key from ${host.knownHosts} and run \`sv hosts trust ${host.name}\``);
    }
    if (/Host key verification failed|No \S+ host key is known/i.test(err)) {
      return mistake(`the host key of ${who} is not known`, `check it and record it with \`sv hosts trust ${host.name}\` (keys are kept in ${host.knownHosts})`);
    }
    if (/Permission denied/i.test(err)) {
      return mistake(`authentication to ${who} failed`, host.keyFile ? `is the key ${host.keyFile} in the remote user's authorized_keys?` : "set key_file: for the host, or load a key into ssh-agent");
    }
    if (/Too many authentication failures/i.test(err)) return mistake(`authentication to ${who} failed (too many keys offered)`, "set key_file: for the host");
    const line = err.split("\n").filter((l) => !/^Warning:/.test(l)).pop() ?? "ssh failed";
    if (/timed out|No route to host|Connection refused|Network is unreachable|Connection closed|Connection reset|Broken pipe|Could not resolve/i.test(err) || err === "") {
      return this.unreachable(host, line || "the connection failed");
    }
    return new SvError(`ssh to ${who} failed: ${line}`);
  }

  private unreachable(host: HostSpec, why: string): HostUnreachable {
    let since = this.unreachableSince(host.name);
    if (!since) {
      since = new Date().toISOString();
      try {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        writeFresh(join(this.dir, `${host.name}.down`), `${since}\n`);
      } catch {}
    }
    const error = new HostUnreachable(host, why, since);
    const prev = this.backoff.get(host.name);
    const delayMs = Math.min((prev?.delayMs ?? 500) * 2, 8_000);
    this.backoff.set(host.name, { until: Date.now() + delayMs, delayMs, error });
    return error;
  }

  private reachable(host: HostSpec): void {
    this.backoff.delete(host.name);
    if (existsSync(join(this.dir, `${host.name}.down`))) rmSync(join(this.dir, `${host.name}.down`), { force: true });
  }

  /** Within a backoff after a failure (a long-lived sv watch): fail at once, without trying. */
  private checkBackoff(host: HostSpec): void {
    const b = this.backoff.get(host.name);
    if (b && Date.now() < b.until) throw b.error;
  }
}

/** A key file ssh would refuse (missing, or readable by others): say so, not "authentication failed". */
function checkKeyFile(host: HostSpec): void {
  if (!host.keyFile) return;
  let mode: number;
  try {
    const st = statSync(host.keyFile);
    if (!st.isFile()) throw mistake(`host ${host.name}: key_file ${host.keyFile} is not a file`, "point key_file: at a private key");
    mode = st.mode;
  } catch (e) {
    if (e instanceof SvError) throw e;
    throw mistake(`host ${host.name}: key_file ${host.keyFile} does not exist`, "create it (ssh-keygen -t ed25519 -f FILE) or fix key_file: in sv.yml");
  }
  if ((mode & 0o077) !== 0) throw mistake(`host ${host.name}: key_file ${host.keyFile} is readable by others (mode ${(mode & 0o777).toString(8)}), so ssh refuses it`, `chmod 600 ${host.keyFile}`);
}

/**
 * A mistake to fix on this side (a key, a host key), with what to do in the same line: a start's failure, sv status's
 * warnings and sv hosts' table show an error's message only, never its hint.
 */
function mistake(message: string, remedy: string): SvError {
  return new SvError(`${message}; ${remedy}`);
}

/** Is a master listening on `socket`? (Connecting costs well under a millisecond; asking ssh -O check a process.) */
async function listening(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  try {
    const s = await Bun.connect({ unix: socket, socket: { data() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}
