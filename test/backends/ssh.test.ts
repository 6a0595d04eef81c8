// The backend contract against the ssh backend, on a real sshd host (its own network, pid and mount
// namespaces; test/helpers/hosts.ts) reached by the system OpenSSH client. Every rig is a project of its own
// name, so its remote dir (~/.sv/<project>) and its marks (/root/marks/<project>/) are its own; its ports are
// the host's, looked at in the host's /proc/net.
import { afterAll, beforeAll, describe } from "bun:test";
import { join } from "node:path";
import type { Handle, StartRequest } from "../../src/backends/backend.ts";
import { Transport, createSshBackend } from "../../src/backends/ssh/index.ts";
import { toHost } from "../../src/config/hosts.ts";
import type { Project, Service } from "../../src/config/schema.ts";
import { projectPaths } from "../../src/paths.ts";
import { type HostRig, type TestHost, startHosts } from "../helpers/hosts.ts";
import { tempProject, waitFor } from "../helpers/project.ts";
import { backendContract, type Behaviour, type Rig } from "./contract.ts";
import { execArgv, shellCommand, shq, startThenKill } from "./rig-kit.ts";
import { testService } from "./service.ts";

const SECOND_SV = join(import.meta.dir, "ssh-sv.ts");

/** Does something listen on `port` on the host (tcp, v4 or v6)? */
function listensOn(host: TestHost, port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const r = host.run(`cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -Eq ':${hex} [0-9A-F]+:0000 0A'`);
  if (r.code > 1) throw new Error(`cannot read ports on ${host.name}: ${r.err}`);
  return r.code === 0;
}

/** Until the port listens (in a behaviour's script, on the host). */
const untilListening = (port: number) => {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return `until cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -Eq ':${hex} [0-9A-F]+:0000 0A'; do sleep 0.01; done`;
};

function sshRig(hosts: HostRig): Rig {
  const host = hosts.hosts[0]!;
  const p = tempProject();
  const name = `s${crypto.randomUUID().slice(0, 8)}`;
  const stateDir = join(p.root, ".sv");
  const marks = `/root/marks/${name}`;
  const made = host.run(`mkdir -p ${shq(marks)}`);
  if (made.code !== 0) throw new Error(`cannot make ${marks} on ${host.name}: ${made.err}`);
  const spec = toHost("h1", { address: host.address, user: "root", port: host.port, key_file: hosts.keyFile, known_hosts: hosts.knownHosts, connect_timeout: 2000, addresses: [] }, p.root, stateDir, name);
  const project: Project = { root: p.root, stateDir, maxParallel: 8, defaultTimeoutMs: 60_000, services: new Map(), api: { tokens: [], allowInsecure: false, secretEnv: [] }, name, plugins: [], hosts: new Map([["h1", spec]]), networks: new Map() };
  const paths = projectPaths(p.root);
  const fresh = () => createSshBackend(paths, project);
  const mark = (unit: string) => `${marks}/${unit}`;
  // The left child stays in the unit's group (no setsid, no daemonizing: httpd -f), as a process's would.
  const leaveChild = (port: number) => `busybox httpd -f -p ${port} -h /tmp </dev/null >/dev/null 2>&1 & ${untilListening(port)}`;
  const service = (unit: string, b: Behaviour): Service => {
    const svc = testService(unit, shellCommand(b, `echo ran >>${shq(mark(unit))}`, "", leaveChild), "", { remote: { host: "h1" } });
    // The backend finds a unit's host (for its logs) by its service, as the engine's project has it.
    project.services.set(unit.split(".")[0]!, svc);
    return svc;
  };
  const occupied: number[] = [];
  return {
    backend: fresh(),
    service,
    execArgv,
    runs(unit) {
      const r = host.run(`cat ${shq(mark(unit))} 2>/dev/null || true`);
      if (r.code !== 0) throw new Error(`cannot read marks on ${host.name}: ${r.err}`);
      return r.out.split("\n").filter(Boolean).length;
    },
    // Another sv shares nothing in memory with this one: a backend of its own, asking the host afresh.
    inspectElsewhere: (unit, handle) => fresh().inspect(unit, handle),
    // Another sv prepares the unit on the host and is killed before releasing it: nobody ever releases it.
    startAndDie: (req: StartRequest) => startThenKill<Handle>(SECOND_SV, ["start", JSON.stringify({ ...project, services: undefined, hosts: [...project.hosts], networks: [] }), JSON.stringify(req)]),
    portHeld: (port) => listensOn(host, port),
    async occupyPort(port) {
      const r = host.run(`setsid busybox httpd -f -p ${port} -h /tmp </dev/null >/dev/null 2>&1 & echo $!`);
      const pid = Number(r.out.trim());
      if (r.code !== 0 || !(pid > 1)) throw new Error(`cannot occupy port ${port} on ${host.name}: ${r.err}`);
      occupied.push(pid);
      await waitFor(() => listensOn(host, port), `port ${port} held on ${host.name}`);
      return () => void host.run(`kill -KILL ${pid} 2>/dev/null; true`);
    },
    freePort() {
      for (;;) {
        const port = 20_000 + Math.floor(Math.random() * 20_000);
        if (!listensOn(host, port)) return port;
      }
    },
    address: host.address,
    straysOutliveUnit: true,
    rotatesLogs: true,
    async dispose() {
      // Whatever of the project still runs on the host (every relay leads its group), then its dirs; then the master.
      host.run(`for f in ${shq(`/root/.sv/${name}/run`)}/*/pid; do [ -r "$f" ] && read -r g rest < "$f" && kill -KILL -"$g" 2>/dev/null; done; ${occupied.map((pid) => `kill -KILL ${pid} 2>/dev/null; `).join("")}rm -rf ${shq(`/root/.sv/${name}`)} ${shq(marks)}; true`);
      await new Transport(paths).closeAll(project.hosts.values());
    },
  };
}

describe("ssh", () => {
  let hosts: HostRig | undefined;
  beforeAll(async () => {
    hosts = await startHosts(1);
  }, 60_000);
  afterAll(async () => {
    await hosts?.stop();
  }, 60_000);
  backendContract("ssh", () => {
    if (!hosts) throw new Error("the host did not start");
    return sshRig(hosts);
  });
});
