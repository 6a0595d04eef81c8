// The ssh backend: each unit is a detached process group on a host, led by a shell relay that records its
// own identity (pid, start time, boot id) and its command's exit status in the host's `dir`. Agentless: the
// system ssh client and a POSIX shell with /proc on the host. One batched round trip per host per look.
import { randomBytes } from "node:crypto";
import { type HostSpec, LOCAL_HOST, addressBetween } from "../../config/hosts.ts";
import type { Project, Service } from "../../config/schema.ts";
import { SvError } from "../../errors.ts";
import type { Paths } from "../../paths.ts";
import type { Address, Backend, ExecResult, Handle, Inspection, Started } from "../backend.ts";
import { isSameProcess } from "../../runtime/identity.ts";
import { lineSplitter } from "../../runtime/lines.ts";
import { signalOfStatus } from "../../runtime/spawn.ts";
import { whoAmI } from "../../store/owner.ts";
import { Batcher } from "./batch.ts";
import { deployPackage, rollbackAfterFailure, rollbackRelease } from "./deploy.ts";
import { REMOTE_EXIT, abortScript, execScript, followScript, inspectScript, logExistsScript, prepareScript, reapScript, relayScript, releaseScript, rotateScript, stopScript, tailScript } from "./remote.ts";
import { shq } from "./shell.ts";
import { Transport } from "./transport.ts";

export { HostUnreachable, Transport } from "./transport.ts";

/** A remote unit: its host, the token of its run dir, and the service's pid there once known. */
export interface SshHandle extends Handle {
  kind: "ssh";
  host: string;
  token: string;
  pid?: number;
  /** A package service: the release it runs. */
  release?: string;
}

function asSsh(h: Handle): SshHandle {
  if (h.kind !== "ssh" || typeof h.host !== "string" || typeof h.token !== "string" || !/^t[0-9a-f]{8,32}$/.test(h.token)) throw new Error(`bug: the ssh backend was given a ${h.kind} handle`);
  return h as SshHandle;
}

/** Is the sv of a `pid:ticks` creator (on this machine) alive? */
function isCreatorAlive(creator: string | undefined): boolean {
  const [pid, ticks] = (creator ?? "").split(":").map(Number);
  return Number.isSafeInteger(pid) && pid! > 1 && isSameProcess(pid!, ticks!);
}

export function createSshBackend(paths: Paths, project: Project): Backend {
  const transport = new Transport(paths);
  const self = whoAmI();
  const hostNamed = (name: string): HostSpec => {
    const host = project.hosts.get(name);
    if (!host || name === LOCAL_HOST) throw new SvError(`host ${name} is not in sv.yml's hosts: any more`, { hint: `declare it again to reach its units (sv status shows them as recorded)` });
    return host;
  };
  const hostOf = (svc: Service) => hostNamed(svc.remote!.host);

  const looks = new Batcher<{ unit: string; token: string }, string>(async (hostName, items) => {
    const host = hostNamed(hostName);
    // A look is quick: a host that does not answer within its connect timeout (and a second) is unreachable.
    const r = await transport.run(host, inspectScript(host.dir, items), { timeoutMs: 1_000 });
    if (r.code !== 0) throw new SvError(`cannot look at units on ${host.name}: ${r.err.trim() || `exit ${r.code}`}`);
    const lines = new Map(r.out.split("\n").filter(Boolean).map((l) => [Number(l.split(" ")[0]), l.split(" ").slice(1).join(" ")]));
    return items.map((_, i) => lines.get(i) ?? "gone");
  });

  /** Run a script on the unit's host; a non-zero exit is an error naming the unit and what the host said. */
  async function onHost(unit: string, host: HostSpec, script: string, opts: { stdin?: Uint8Array; timeoutMs?: number } = {}): Promise<string> {
    const r = await transport.run(host, script, opts);
    const said = r.err.trim().split("\n").pop() || `exit ${r.code}`;
    // A port taken reads as it does for every backend ("UNIT: port N is already in use ..."), naming the host.
    if (r.code === REMOTE_EXIT.portTaken) throw new SvError(`${unit}: ${said} on ${host.name}`, { hint: hintFor(r.code, host) });
    if (r.code !== 0) throw new SvError(`${unit}: on ${host.name}: ${said}`, { hint: hintFor(r.code, host) });
    return r.out;
  }

  return {
    kind: "ssh",
    runs: (svc) => svc.remote !== undefined,

    async start(req): Promise<Started> {
      const host = hostOf(req.svc);
      const token = `t${randomBytes(6).toString("hex")}`;
      const pkg = req.svc.remote!.package;
      const release = pkg ? await deployPackage(transport, host, req.unit, pkg, { ...req.svc.env, ...req.env }) : undefined;
      const env = { ...req.svc.env, ...req.env };
      const relay = relayScript({ svc: req.svc, dir: host.dir, unit: req.unit, token, env, preStart: pkg !== undefined });
      const prepare = prepareScript({ dir: host.dir, unit: req.unit, token, relay, port: req.port, creator: `${self.pid}:${self.ticks}` });
      await onHost(req.unit, host, `${runnableCheck(req.svc.command, env)}${prepare}`);
      const handle: SshHandle = { kind: "ssh", host: host.name, token, ...(release ? { release } : {}) };
      return {
        handle,
        async release() {
          // The recorded handle stays as it is (the store compares it); the service's pid comes from inspect.
          // Closed meanwhile (an abort, a stop before release, by this sv or another): it never runs.
          const r = await transport.run(host, releaseScript({ dir: host.dir, unit: req.unit, token }));
          if (r.code === REMOTE_EXIT.aborted) return;
          if (r.code !== 0) throw new SvError(`${req.unit}: on ${host.name}: ${r.err.trim().split("\n").pop() || `exit ${r.code}`}`, { hint: hintFor(r.code, host) });
        },
        async abort() {
          const fate = (await onHost(req.unit, host, abortScript({ dir: host.dir, unit: req.unit, token }))).trim();
          // Released after all (sv died between): it runs, and nobody recorded it: end it.
          if (fate === "released") await onHost(req.unit, host, stopScript({ dir: host.dir, unit: req.unit, token, signal: "SIGKILL", timeoutMs: 0 }));
        },
      };
    },

    async inspect(unit, h): Promise<Inspection> {
      const handle = asSsh(h);
      const seen = await looks.ask(handle.host, { unit, token: handle.token });
      const [what, value] = seen.split(" ");
      if (what === "alive") return { alive: true, pid: Number(value) > 1 ? Number(value) : (handle.pid ?? null) };
      if (what === "launching") return { alive: true, pid: handle.pid ?? null };
      if (what === "unborn") return { alive: false, unborn: true, pid: null };
      // Not released yet: it awaits release while the sv that prepared it lives; once that sv is gone, nobody releases it.
      if (what === "pending") return isCreatorAlive(value) ? { alive: true, pid: null } : { alive: false, unborn: true, pid: null };
      if (what === "exit" && /^\d{1,3}$/.test(value ?? "")) {
        const status = Number(value);
        const signal = signalOfStatus(status);
        return { alive: false, exit: signal ? { code: null, signal } : { code: status, signal: null }, pid: handle.pid ?? null };
      }
      return { alive: false, pid: handle.pid ?? null };
    },

    async stop(unit, h, opts) {
      const handle = asSsh(h);
      const host = hostNamed(handle.host);
      const t0 = performance.now();
      const out = await onHost(unit, host, stopScript({ dir: host.dir, unit, token: handle.token, signal: opts.signal, timeoutMs: opts.timeoutMs }), { timeoutMs: opts.timeoutMs + 15_000 });
      const line = out.trim().split("\n").pop() ?? "";
      return { forced: line === "stopped 1", wasRunning: line.startsWith("stopped"), durationMs: performance.now() - t0 };
    },

    async kill(unit, h) {
      const handle = asSsh(h);
      const host = hostNamed(handle.host);
      await onHost(unit, host, stopScript({ dir: host.dir, unit, token: handle.token, signal: "SIGKILL", timeoutMs: 0 }), { timeoutMs: 15_000 });
    },

    async reap(unit, h) {
      const handle = asSsh(h);
      const host = hostNamed(handle.host);
      await onHost(unit, host, reapScript({ dir: host.dir, unit, token: handle.token }), { timeoutMs: 10_000 });
    },

    async exec(req): Promise<ExecResult> {
      const host = hostOf(req.svc);
      // Only what the service declares and sv adds travels: the host keeps its own PATH, HOME and the rest.
      const env = { ...req.svc.env, ...req.added };
      const r = await transport.run(host, execScript({ dir: host.dir, unit: req.unit, cwd: req.svc.cwd, argv: req.argv, env, timeoutMs: req.timeoutMs, output: req.output }), { timeoutMs: req.timeoutMs + 5_000 });
      const m = /sv-exec (\d+) ([01])\s*$/.exec(r.out);
      if (!m) return { code: null, signal: null, timedOut: false, stderr: r.err, error: `on ${host.name}: ${r.err.trim().split("\n").pop() || `exit ${r.code}`}` };
      const status = Number(m[1]);
      const timedOut = m[2] === "1";
      const signal = timedOut ? "SIGKILL" : signalOfStatus(status);
      // sh says "X: not found"; setsid (util-linux, busybox), exec'ing the argv, "... X: No such file or directory".
      if (status === 127 && /not found|No such file or directory/.test(r.err)) return { code: null, signal: null, timedOut: false, stderr: r.err, error: "command not found" };
      return { code: signal ? null : status, signal, timedOut, stderr: req.output === "capture" ? r.err : "" };
    },

    address(svc, _instance, from?: Service): Address {
      const host = hostOf(svc);
      if (!from) return { host: host.address };
      if (from.remote?.host === host.name) return { host: "127.0.0.1" };
      if (from.remote) return { host: addressBetween(hostNamed(from.remote.host), host, project.networks) ?? host.address };
      const local = project.hosts.get(LOCAL_HOST);
      return { host: local ? (addressBetween(local, host, project.networks) ?? host.address) : host.address };
    },

    async rollback(svc) {
      const [from, to] = await rollbackRelease(transport, hostOf(svc), svc.name, svc.remote!.package!);
      return { from, to };
    },

    async startFailed(unit, h) {
      const handle = asSsh(h);
      if (!handle.release) return null;
      const svc = project.services.get(unit.split(".")[0]!);
      if (!svc?.remote?.package) return null;
      return rollbackAfterFailure(transport, hostNamed(handle.host), unit, svc.remote.package, handle.release);
    },

    logs: {
      async tail(unit, lines) {
        const host = hostForUnit(unit);
        if (!host) return [];
        const r = await transport.run(host, tailScript(host.dir, unit, lines));
        return r.out.split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
      },
      async exists(unit) {
        const host = hostForUnit(unit);
        if (!host) return false;
        return (await transport.run(host, logExistsScript(host.dir, unit))).out.trim() === "yes";
      },
      file: () => null,
      follow(unit, lines, onLine) {
        const host = hostForUnit(unit);
        let closed = false;
        let proc: Awaited<ReturnType<Transport["stream"]>> | undefined;
        if (host)
          void transport.stream(host, followScript(host.dir, unit, lines)).then(async (p) => {
            proc = p;
            if (closed) return p.kill();
            // One decoder for the stream: a character cut between two chunks is decoded whole.
            const decoder = new TextDecoder();
            const split = lineSplitter(onLine);
            for await (const chunk of p.stdout as ReadableStream<Uint8Array>) split(decoder.decode(chunk, { stream: true }));
          });
        return {
          close() {
            closed = true;
            proc?.kill();
          },
        };
      },
      async rotate(unit, maxBytes, keep) {
        const host = hostForUnit(unit);
        if (!host) return 0;
        const r = await transport.run(host, rotateScript(host.dir, unit, maxBytes, keep));
        return Number(r.out.trim()) || 0;
      },
    },
  };

  function hostForUnit(unit: string): HostSpec | undefined {
    const svc = project.services.get(unit.split(".")[0]!);
    return svc?.remote ? project.hosts.get(svc.remote.host) : undefined;
  }
}

/**
 * An argv command whose program the host does not have fails its start, as a local spawn does ("cannot start X:
 * command not found"), not as an exit 127 of the relay. Looked up with the PATH the relay gives it; a program
 * named by a relative path (resolved in the service's cwd) and a shell command (its shell reports it) are left to run.
 */
function runnableCheck(command: string | string[], env: Record<string, string>): string {
  const program = typeof command === "string" ? undefined : command[0];
  if (program === undefined || (program.includes("/") && !program.startsWith("/"))) return "";
  const path = env.PATH === undefined ? "" : `PATH=${shq(env.PATH)}; export PATH; `;
  const name = program.replace(/[^\x20-\x7e]/g, "?");
  return `( ${path}command -v ${shq(program)} ) >/dev/null 2>&1 || { echo ${shq(`cannot start ${name}: command not found`)} >&2; exit 127; }\n`;
}

function hintFor(code: number, host: HostSpec): string | undefined {
  if (code === REMOTE_EXIT.notWritable) return `set dir: for host ${host.name} in sv.yml to a directory its user can write`;
  if (code === REMOTE_EXIT.noProc) return "sv needs a Linux host with /proc mounted";
  if (code === REMOTE_EXIT.portTaken) return "stop that process on the host, or give the service another port:";
  return undefined;
}
