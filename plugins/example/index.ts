// An example backend plugin, "nice": runs a service as a local process at a lower CPU priority, under
// nice(1). A service picks it with `env: { SV_BACKEND: nice }`, and may set `SV_NICENESS` (1-19, default
// 10). Everything but the command line is sv's own local backend (host.local): the gate, exit records,
// stop and kill of the process group, logs, hooks and probes. Only types come from sv (`import type`),
// so the compiled sv imports this file with nothing else to resolve.
import type { Backend, BackendPlugin, Handle, PluginHost, Service, StartRequest } from "../../src/backends/plugin-api.ts";

const KIND = "nice";
const DEFAULT_NICENESS = 10;

/** Does the service ask for this backend? */
const isNice = (svc: Service) => svc.env.SV_BACKEND === KIND;

/** The niceness a service asks for: SV_NICENESS, an integer 1-19, else the default. */
function nicenessOf(host: PluginHost, svc: Service): number {
  const n = Number(svc.env.SV_NICENESS ?? DEFAULT_NICENESS);
  if (!Number.isInteger(n) || n < 1 || n > 19) throw new host.SvError(`${svc.name}: SV_NICENESS must be an integer from 1 to 19, got ${svc.env.SV_NICENESS}`);
  return n;
}

/** The service's command under nice: a string runs through /bin/sh -c, as sv runs it; nice execs it, so the pid stays the service's. */
function underNice(host: PluginHost, svc: Service): Service {
  const argv = typeof svc.command === "string" ? ["/bin/sh", "-c", svc.command] : svc.command;
  return { ...svc, command: ["nice", "-n", String(nicenessOf(host, svc)), ...argv] };
}

/** Handles are the local backend's, tagged with this kind so that sv asks this backend about them. */
const tagged = (h: Handle): Handle => ({ ...h, kind: KIND });
function local(h: Handle): Handle {
  if (h.kind !== KIND) throw new Error(`bug: the nice backend was given a ${h.kind} handle`);
  return { ...h, kind: "process" };
}

function createNiceBackend(host: PluginHost): Backend {
  const inner = host.local;
  return {
    kind: KIND,
    runs: isNice,
    async start(req: StartRequest) {
      const started = await inner.start({ ...req, svc: underNice(host, req.svc) });
      return { ...started, handle: tagged(started.handle) };
    },
    inspect: (unit, h) => inner.inspect(unit, local(h)),
    stop: (unit, h, opts) => inner.stop(unit, local(h), opts),
    kill: (unit, h) => inner.kill(unit, local(h)),
    reap: (unit, h) => inner.reap(unit, local(h)),
    exec: (req) => inner.exec(req),
    address: (svc, instance, from) => inner.address(svc, instance, from),
    logs: inner.logs,
    exitWatcher(onEnd) {
      const w = inner.exitWatcher!(onEnd);
      return { ...w, sync: (targets) => w.sync(new Map([...targets].filter(([, h]) => h.kind === KIND).map(([u, h]) => [u, local(h)]))) };
    },
  };
}

export default {
  kind: KIND,
  create: createNiceBackend,
} satisfies BackendPlugin;
