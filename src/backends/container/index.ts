// The container backend: each unit is a container `<project>-<unit>` of a Docker Engine API (dockerd or
// podman), labelled as the project's. Created = the gate (a created container runs nothing); release
// starts it. The engine knows every exit, so inspect always says how a container ended.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SvError } from "../../errors.ts";
import type { Project, Service } from "../../config/schema.ts";
import type { Paths } from "../../paths.ts";
import { portInUse } from "../../runtime/ports.ts";
import { isSameProcess } from "../../runtime/identity.ts";
import { ensurePrivateDir, writeFresh } from "../../runtime/private-files.ts";
import { signalOfStatus } from "../../runtime/spawn.ts";
import { whoAmI } from "../../store/owner.ts";
import type { Backend, Exit, Found, Handle, Inspection, StartRequest, Started, StopOutcome } from "../backend.ts";
import { EngineClient, EngineError, findSocket } from "./client.ts";
import { containerOf, createBody, publishedPorts } from "./create.ts";
import { containerEvents } from "./events.ts";
import { execInContainer } from "./exec.ts";
import { ensureImage } from "./image.ts";
import { containerLogs } from "./logs.ts";
import { LABEL, containerName, projectFilter, specFromLabels } from "./names.ts";
import { ensureNetwork, ensureVolumes, forgetNetwork, removeProjectObjects } from "./shared.ts";

export interface ContainerHandle extends Handle {
  kind: "container";
  id: string;
  name: string;
}

export function isContainerHandle(h: Handle): h is ContainerHandle {
  return h.kind === "container" && typeof h.id === "string";
}

function asContainer(h: Handle): ContainerHandle {
  if (!isContainerHandle(h)) throw new Error(`bug: the container backend was given a ${h.kind} handle`);
  return h;
}

/** A row of GET /containers/json. */
interface Listed {
  Id: string;
  Names?: string[];
  State: string;
  Labels?: Record<string, string>;
}

/** The part of GET /containers/ID/json sv reads. */
export interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; OOMKilled?: boolean; StartedAt?: string };
  Config?: { Labels?: Record<string, string> };
}

/** How long one list answers inspects: a refresh's discovery and its inspects share it; a poll 10 ms later does not. */
const SNAPSHOT_MS = 5;
const LIVE_STATES = ["running", "paused", "restarting"];

/** How a container ended: a code above 128 is the death by signal (code - 128) the engine reports that way. */
export function exitOf(state: Inspected["State"]): Exit {
  if (state.OOMKilled) return { code: null, signal: "SIGKILL" };
  const signal = signalOfStatus(state.ExitCode);
  return signal ? { code: null, signal } : { code: state.ExitCode, signal: null };
}

/** Is this the engine saying the object does not exist / is not running (codes differ between docker and podman)? */
const isMissing = (e: unknown) => e instanceof EngineError && e.status === 404;
const isNotRunning = (e: unknown) => e instanceof EngineError && (e.status === 409 || e.status === 304 || /not running|is not running|container state improper/i.test(e.message));
const isNetworkGone = (e: unknown) => e instanceof Error && /network\b.*not found|no such network|unable to find network/i.test(e.message);
const isNameConflict = (e: unknown) => e instanceof EngineError && (e.status === 409 || /already in use|name is in use/i.test(e.message));

/** Is the sv of a `pid:ticks` creator label alive? */
function isCreatorAlive(label: string | undefined): boolean {
  const [pid, ticks] = (label ?? "").split(":").map(Number);
  return Number.isSafeInteger(pid) && pid! > 1 && isSameProcess(pid!, ticks!);
}

export function createContainerBackend(paths: Paths, project: Project): Backend {
  const self = whoAmI();
  const runDir = join(paths.stateDir, "run");
  /** Written when a created container's gate is closed for good (abort, or a stop before release). */
  const unbornMark = (unit: string, id: string) => join(runDir, `${unit}.${id.slice(0, 12)}.unborn`);
  const closeGate = (unit: string, id: string) => {
    ensurePrivateDir(runDir);
    writeFresh(unbornMark(unit, id), "unborn\n");
  };
  /** A created container: awaiting release while its creator lives and has not closed the gate; else it never runs. */
  const created = (unit: string, id: string, labels: Record<string, string> | undefined): Inspection =>
    !existsSync(unbornMark(unit, id)) && isCreatorAlive(labels?.[LABEL.creator]) ? { alive: true, pid: null } : { alive: false, unborn: true, pid: null };
  let client: EngineClient | null = null;
  const engine = () => (client ??= new EngineClient(findSocket(project.dockerSocket)));
  const logs = containerLogs(paths, project, engine);

  // One list call answers every inspect made in the same tick (sv status of 20 containers: one call).
  let listing: Promise<Map<string, Listed>> | null = null;
  function snapshot(): Promise<Map<string, Listed>> {
    listing ??= engine()
      .json<Listed[]>("GET", "/containers/json", { query: { all: 1, filters: projectFilter(project) } })
      .then((rows) => new Map(rows.map((r) => [r.Id, r])))
      .finally(() => setTimeout(() => (listing = null), SNAPSHOT_MS));
    return listing;
  }

  /** After sv changes a container, the next inspect asks afresh. */
  const invalidate = () => void (listing = null);
  const inspectFull = (ref: string) => engine().json<Inspected>("GET", `/containers/${encodeURIComponent(ref)}/json`);
  const remove = (id: string) => engine().request("DELETE", `/containers/${id}`, { query: { force: 1 } }).finally(invalidate).then(() => undefined, (e) => (isMissing(e) ? undefined : Promise.reject(e)));
  const signal = (id: string, sig: string) => engine().request("POST", `/containers/${id}/kill`, { query: { signal: sig } }).finally(invalidate).then(() => true, (e) => (isMissing(e) || isNotRunning(e) ? false : Promise.reject(e)));

  /** Wait until it is not running, at most `ms`; true if it stopped in time. */
  async function waitStopped(id: string, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    for (let pause = 5; ; pause = Math.min(pause * 2, 50)) {
      const state = await inspectFull(id).then((i) => i.State.Status, (e) => (isMissing(e) ? "removed" : Promise.reject(e)));
      if (!LIVE_STATES.includes(state)) return invalidate(), true;
      if (performance.now() >= deadline) return false;
      await Bun.sleep(Math.min(pause, Math.max(0, deadline - performance.now())));
    }
  }

  /** A container of this name exists: adopt it (ours, running, same definition) or remove it (anything else). */
  async function resolveConflict(name: string, req: StartRequest): Promise<ContainerHandle | null> {
    const found = await inspectFull(name);
    const labels = found.Config?.Labels ?? {};
    if (labels[LABEL.project] !== project.name || labels[LABEL.root] !== project.root) {
      const whose = labels[LABEL.root] ? `the project at ${labels[LABEL.root]}` : "no sv project";
      throw new SvError(`${req.unit}: container ${name} already exists and belongs to ${whose}; remove it, or give this project another name (name: in sv.yml)`);
    }
    if (found.State.Running && labels[LABEL.hash] === req.spec.hash) return { kind: "container", id: found.Id, name, pid: found.State.Pid || undefined };
    await remove(found.Id);
    return null;
  }

  async function create(req: StartRequest, gateway: string | null): Promise<{ handle: ContainerHandle; adopted: boolean }> {
    const name = containerName(project, req.unit);
    const body = createBody(project, req, gateway, `${self.pid}:${self.ticks}`);
    for (let attempt = 0; ; attempt++) {
      try {
        const { Id } = await engine().json<{ Id: string }>("POST", "/containers/create", { query: { name }, body });
        return { handle: { kind: "container", id: Id, name }, adopted: false };
      } catch (e) {
        if (!isNameConflict(e) || attempt > 0) throw new SvError(`${req.unit}: the engine refused to create ${name}: ${(e as Error).message}`);
        const adopted = await resolveConflict(name, req);
        if (adopted) return { handle: adopted, adopted: true };
      }
    }
  }

  /** What would make the start fail, checked before anything is created. (A start error is a unit's reason, so the way out is in the message.) */
  function precheck(req: StartRequest): void {
    const ports = new Set(publishedPorts(req.svc, req.instance).flatMap((p) => (p.protocol === "tcp" ? [p.hostPort] : [])));
    if (req.port !== undefined && containerOf(req.svc).networkMode === "host") ports.add(req.port);
    for (const port of ports) {
      const taken = portInUse(port);
      if (taken) throw new SvError(`${req.unit}: ${taken}; stop that process, or publish another host port in ports:`);
    }
    for (const v of containerOf(req.svc).volumes) {
      if (v.kind === "bind" && !existsSync(v.source)) throw new SvError(`${req.unit}: the bind mount source ${v.source} does not exist; create it, or fix volumes:`);
    }
  }

  return {
    kind: "container",
    runs: (svc) => svc.container !== undefined,

    async start(req: StartRequest): Promise<Started> {
      precheck(req);
      const c = containerOf(req.svc);
      await ensureImage(engine(), c.image, c.pull, req.unit);
      const network = () => (c.networkMode === "project" ? ensureNetwork(engine(), project) : Promise.resolve(null));
      await ensureVolumes(engine(), project, c.volumes);
      const { handle, adopted } = await create(req, await network()).catch(async (e) => {
        // The network this sv made earlier is gone (a `sv down` elsewhere removed it): make it again, once.
        if (c.networkMode !== "project" || !isNetworkGone(e)) throw e;
        forgetNetwork(engine());
        return create(req, await network());
      });
      let aborted = false;
      return {
        handle,
        async release() {
          // Closed meanwhile (a stop before release, by this sv or another): it never runs.
          if (adopted || aborted || existsSync(unbornMark(req.unit, handle.id))) return;
          const startIt = () => engine().request("POST", `/containers/${handle.id}/start`).finally(invalidate);
          try {
            // dockerd checks the network only here: one removed meanwhile is made again, once.
            await startIt().catch(async (e) => {
              if (!isNetworkGone(e) || c.networkMode !== "project") throw e;
              forgetNetwork(engine());
              await network();
              await startIt();
            });
          } catch (e) {
            if (e instanceof EngineError && e.status === 304) return; // started already
            await remove(handle.id).catch(() => {});
            throw new SvError(`${req.unit}: the engine could not start it: ${(e as Error).message}`);
          }
        },
        // Left created, it runs nothing (inspect says unborn) until sv down or its next start removes it.
        abort: async () => {
          aborted = true;
          closeGate(req.unit, handle.id);
        },
      };
    },

    async inspect(unit, h): Promise<Inspection> {
      const handle = asContainer(h);
      const row = (await snapshot()).get(handle.id);
      if (row?.State === "created") return created(unit, handle.id, row.Labels);
      if (row && LIVE_STATES.includes(row.State) && typeof handle.pid === "number") return { alive: true, pid: handle.pid };
      // Not listed (removed from outside), dead, or live with no pid recorded yet: ask about it alone.
      let full: Inspected;
      try {
        full = await inspectFull(handle.id);
      } catch (e) {
        if (isMissing(e)) return { alive: false, pid: null };
        throw e;
      }
      if (full.State.Status === "created") return created(unit, handle.id, full.Config?.Labels);
      if (LIVE_STATES.includes(full.State.Status)) return { alive: true, pid: full.State.Pid || null };
      return { alive: false, exit: exitOf(full.State), pid: handle.pid ?? null };
    },

    async stop(unit, h, opts): Promise<StopOutcome> {
      const handle = asContainer(h);
      const t0 = performance.now();
      const state = await inspectFull(handle.id).then((i) => i.State.Status, (e) => (isMissing(e) ? "removed" : Promise.reject(e)));
      // A created container never ran: its gate closes for good (it stays unborn), nothing to signal.
      if (state === "created") closeGate(unit, handle.id);
      if (!LIVE_STATES.includes(state)) return { forced: false, wasRunning: state === "created", durationMs: performance.now() - t0 };
      await signal(handle.id, opts.signal);
      if (await waitStopped(handle.id, opts.timeoutMs)) return { forced: false, wasRunning: true, durationMs: performance.now() - t0 };
      await signal(handle.id, "SIGKILL");
      await waitStopped(handle.id, 10_000);
      return { forced: true, wasRunning: true, durationMs: performance.now() - t0 };
    },

    async kill(_unit, h) {
      const handle = asContainer(h);
      if (await signal(handle.id, "SIGKILL")) await waitStopped(handle.id, 10_000);
    },

    async reap(unit, h) {
      const handle = asContainer(h);
      await remove(handle.id);
      rmSync(unbornMark(unit, handle.id), { force: true });
    },

    exec: (req) => execInContainer(engine(), project, containerName(project, req.unit), req, logs.hookLog),

    address(svc: Service, instance: number, from?: Service): { host: string; port?: number } {
      const c = containerOf(svc);
      // On the project network, a container reaches another by its service name, on the container's port.
      if (from?.container?.networkMode === "project" && c.networkMode === "project") return { host: svc.name, port: c.containerPort };
      return { host: "127.0.0.1", port: publishedPorts(svc, instance)[0]?.hostPort };
    },

    exitWatcher: (onEnd) => containerEvents(engine, project, onEnd),

    async discover(): Promise<Found[]> {
      // The same list as the inspects of this refresh, when they come soon enough to share it.
      const rows = [...(await snapshot()).values()];
      return rows
        .filter((r) => r.Labels?.[LABEL.root] === project.root && r.Labels?.[LABEL.unit])
        .map((r) => ({
          unit: r.Labels![LABEL.unit]!,
          handle: { kind: "container", id: r.Id, name: (r.Names?.[0] ?? "").replace(/^\//, "") } as ContainerHandle,
          spec: specFromLabels(r.Labels),
          alive: LIVE_STATES.includes(r.State),
        }));
    },

    teardown: (opts) => removeProjectObjects(engine(), project, opts),

    logs,
  };
}
