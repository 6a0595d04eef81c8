// The local backend: each unit is a process group on this machine, led by a gated exit relay.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SvError } from "../../errors.ts";
import { logFile, type Paths } from "../../paths.ts";
import { ExitWatch } from "../../runtime/exits.ts";
import { writeFresh } from "../../runtime/private-files.ts";
import { childrenOf, isSameProcess } from "../../runtime/identity.ts";
import { hasLog } from "../../runtime/logs/files.ts";
import { rotateLog } from "../../runtime/logs/rotate.ts";
import { tailLog } from "../../runtime/logs/tail.ts";
import { portInUse } from "../../runtime/ports.ts";
import { killGroup, stopGracefully } from "../../runtime/signals.ts";
import { commandArgv } from "../../config/command.ts";
import { HOST_ALIAS } from "../../config/container.ts";
import { LOCAL_HOST, addressBetween } from "../../config/hosts.ts";
import type { Project } from "../../config/schema.ts";
import { asUser, parseExitRecord, spawnGated, userEnv, withLimits } from "../../runtime/spawn.ts";
import type { Backend, Handle, Inspection, StartRequest, Started } from "../backend.ts";
import { execLocal } from "./exec.ts";

/** A local unit: the relay's pid (its group id) and start time; `pid` is the service's own process once known. */
export interface ProcessHandle extends Handle {
  kind: "process";
  pid: number;
  pgid: number;
  ticks: number;
  /** Started behind the relay (sv ≥ 0.2): its exit status is recorded. Units of sv 0.1 have none. */
  relay: boolean;
}

export function isProcessHandle(h: Handle): h is ProcessHandle {
  return h.kind === "process" && typeof h.pgid === "number" && typeof h.ticks === "number";
}

function asProcess(h: Handle): ProcessHandle {
  if (!isProcessHandle(h)) throw new Error(`bug: the local backend was given a ${h.kind} handle`);
  return h;
}

export function createLocalBackend(paths: Paths, project?: Project): Backend {
  const runDir = join(paths.stateDir, "run");
  const exitFile = (unit: string, pgid: number) => join(runDir, `${unit}.${pgid}.exit`);

  return {
    kind: "process",
    runs: () => true,

    async start(req: StartRequest): Promise<Started> {
      const { svc } = req;
      forgetRecords(req.unit);
      const taken = req.port === undefined ? null : portInUse(req.port);
      if (taken) throw new SvError(`${req.unit}: ${taken}`, { hint: "stop that process, or give the service another port:" });
      const env = { ...req.inherited, ...userEnv(svc.name, svc), ...svc.env, ...req.env };
      const gated = await spawnGated({
        argv: withLimits(svc.limits, asUser(svc, commandArgv(svc.command))),
        cwd: svc.cwd,
        env,
        logPath: logFile(paths, req.unit),
        exitPrefix: join(runDir, req.unit),
      });
      const handle: ProcessHandle = { kind: "process", pid: gated.pid, pgid: gated.pid, ticks: gated.startTicks, relay: true };
      return {
        handle,
        release: () => gated.release(),
        async abort() {
          const neverRan = gated.abort();
          await killGroup(gated.pid, gated.startTicks);
          // Written once the group is gone, so no relay is left to truncate it; inspect then says unborn.
          if (neverRan) writeFresh(exitFile(req.unit, gated.pid), "unborn\n");
        },
        exited: gated.exited.then(() => readExit(req.unit, handle)),
      };
    },

    async inspect(unit: string, h: Handle): Promise<Inspection> {
      const handle = asProcess(h);
      if (isSameProcess(handle.pgid, handle.ticks)) {
        // The service's own pid, once recorded, stays its pid while the relay lives (the relay runs one child).
        const main = handle.relay && handle.pid === handle.pgid ? (childrenOf(handle.pgid)[0] ?? handle.pid) : handle.pid;
        return { alive: true, pid: main };
      }
      const record = handle.relay ? readRecord(unit, handle) : null;
      if (record && "unborn" in record) return { alive: false, unborn: true, pid: null };
      return { alive: false, exit: record ?? undefined, pid: handle.pid };
    },

    async stop(_unit, h, opts) {
      const handle = asProcess(h);
      // The group is gone when this resolves: nothing to reap. Its exit record stays, to be read (how
      // it ended), until the unit starts again.
      return stopGracefully(handle.pgid, handle.ticks, opts.signal as NodeJS.Signals, opts.timeoutMs);
    },

    async kill(_unit, h) {
      const handle = asProcess(h);
      await killGroup(handle.pgid, handle.ticks);
    },

    async reap(unit, h) {
      const handle = asProcess(h);
      await killGroup(handle.pgid, handle.ticks);
      rmSync(exitFile(unit, handle.pgid), { force: true });
    },

    exec: (req) => execLocal(req, logFile(paths, req.unit)),
    // A container on its project network reaches this machine by the name sv gives its gateway (the
    // service must listen there too, not only on 127.0.0.1).
    // A service on a host reaches this machine at the address sv.yml gives it (hosts: local:).
    address: (_svc, _instance, from) => {
      if (from?.remote && project) return { host: localAddressFrom(project, from.remote.host) };
      return { host: from?.container?.networkMode === "project" ? HOST_ALIAS : "127.0.0.1" };
    },
    exitWatcher(onEnd) {
      const watch = new ExitWatch(onEnd);
      return {
        sync: (targets) => watch.sync(new Map([...targets].filter(([, h]) => isProcessHandle(h)).map(([u, h]) => [u, { pid: h.pgid as number, ticks: h.ticks as number }]))),
        ended: () => watch.exited(),
        close: () => watch.close(),
      };
    },

    logs: {
      tail: async (unit, lines) => tailLog(logFile(paths, unit), lines),
      exists: async (unit) => hasLog(logFile(paths, unit)),
      file: (unit) => logFile(paths, unit),
      rotate(unit, maxBytes, keep) {
        const r = rotateLog(logFile(paths, unit), maxBytes, keep);
        return r.rotated ? r.bytes : 0;
      },
    },
  };

  /** Exit records of earlier runs of `unit`: no handle refers to them once it starts again. */
  function forgetRecords(unit: string): void {
    let names: string[];
    try {
      names = readdirSync(runDir);
    } catch {
      return;
    }
    const mine = new RegExp(`^${unit.replace(/[.]/g, "\\.")}\\.\\d+\\.exit$`);
    for (const n of names) if (mine.test(n)) rmSync(join(runDir, n), { force: true });
  }

  function readRecord(unit: string, handle: ProcessHandle) {
    const file = exitFile(unit, handle.pgid);
    if (!existsSync(file)) return null;
    try {
      return parseExitRecord(readFileSync(file, "utf8"));
    } catch {
      return null;
    }
  }

  function readExit(unit: string, handle: ProcessHandle) {
    const r = readRecord(unit, handle);
    return r && !("unborn" in r) ? r : { code: null, signal: null };
  }
}

/** This machine's address as `host` reaches it (validated at load: a remote dependent needs hosts: local:). */
function localAddressFrom(project: Project, host: string): string {
  const local = project.hosts.get(LOCAL_HOST);
  const from = project.hosts.get(host);
  if (!local) return "127.0.0.1";
  return (from && addressBetween(from, local, project.networks)) ?? local.address;
}
