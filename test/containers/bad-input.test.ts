// Containers that cannot start, end to end through dist/sv on podman and dockerd: each is one line for its
// service (`✘ web: …`) and exit 1 from sv up, or a located config error and exit 2; nothing is left in the engine.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, isAlive, sv, tempProject, unitStatus } from "../helpers/project.ts";
import { TEST_IMAGE, containerProject, expectNothingLeft, leftovers, onEachEngine } from "./support.ts";

const CONNECT_HINT = "start the engine, or point sv at one: docker: { host: unix:///path/to.sock } in sv.yml, or DOCKER_HOST";
const FAILED_ONE = "✘ up: 1 of 1 service failed\n";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** A private dir for sockets (removed after the test). */
function socketDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sv-sock-"));
  dirs.push(d);
  return d;
}

onEachEngine("containers: bad input", (engine) => {
  test("an unreachable engine: the error names the socket and the way out; a process service of the project still starts", async () => {
    const socket = join(socketDir(), "missing.sock");
    const p = containerProject(engine(), { web: { image: TEST_IMAGE, pull: "never" }, ok: { command: ["/bin/sh", "-c", "exec sleep 1000"] } }, { docker: { host: `unix://${socket}` } });
    const why = `container engine at ${socket} (docker.host in sv.yml): no such socket; ${CONNECT_HINT}`;

    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(1);
    expect(up.stdout.split("\n").filter(Boolean).map((l) => l.replace(/\(pid \d+\) in \d+ ms/, "(pid N) in N ms")).sort()).toEqual([`✓ ok running (pid N) in N ms`, `✘ web: web: ${why}`]);
    expect(up.stderr).toBe(`⚠ ${why}\n✘ up: 1 of 2 services failed\n`);
    const ok = await unitStatus(p.root, "ok");
    expect(ok.state).toBe("running");
    expect(isAlive(ok.pid!)).toBe(true);
    await expectNothingLeft(engine(), p.name);

    const down = await sv(p.root, ["down"]);
    expect(down).toMatchObject({ code: 0 });
    expect(isAlive(ok.pid!)).toBe(false);
  });

  test("a socket that is not an engine (a plain HTTP server): the error says so", async () => {
    const socket = join(socketDir(), "http.sock");
    const server = Bun.serve({ unix: socket, fetch: () => new Response("a plain web server") });
    try {
      const p = containerProject(engine(), { web: { image: TEST_IMAGE, pull: "never" } }, { docker: { host: `unix://${socket}` } });
      const why = `container engine at ${socket} (docker.host in sv.yml): it answered 200 a plain web server: not a Docker API; ${CONNECT_HINT}`;
      expect(await sv(p.root, ["up"])).toEqual({ code: 1, stdout: `✘ web: web: ${why}\n`, stderr: `⚠ ${why}\n${FAILED_ONE}` });
      await expectNothingLeft(engine(), p.name);
      expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    } finally {
      server.stop(true);
    }
  });

  test("an image the engine does not have, with pull: never", async () => {
    const p = containerProject(engine(), { web: { image: "localhost/nope:1", pull: "never" } });
    expect(await sv(p.root, ["up"])).toEqual({ code: 1, stdout: "✘ web: web: image localhost/nope:1 is not in the engine, and pull: never; load or build it there (docker load, podman import), or set pull: missing\n", stderr: FAILED_ONE });
    await expectNothingLeft(engine(), p.name);
    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });

  test("a pull that fails (no registry at localhost:1): the engine's reason, on one line", async () => {
    const p = containerProject(engine(), { web: { image: "localhost:1/nope:1", pull: "always" } });
    const up = await sv(p.root, ["up"]);
    expect(up.code).toBe(1);
    // The rest is the engine's own words (podman and dockerd differ), always about the refused connection.
    expect(up.stdout).toMatch(/^✘ web: web: pulling localhost:1\/nope:1 failed: [^\n]*127\.0\.0\.1:1: connect: connection refused; check the image name and the registry, or load the image and set pull: never\n$/);
    expect(up.stderr).toBe(FAILED_ONE);
    await expectNothingLeft(engine(), p.name);
    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });

  test("a host port already allocated: the error names the port and its holder", async () => {
    const port = freePort();
    const holder = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    try {
      const p = containerProject(engine(), { web: { image: TEST_IMAGE, pull: "never", ports: [`127.0.0.1:${port}:80`] } });
      const self = readFileSync("/proc/self/cmdline", "utf8").split("\0").filter(Boolean).join(" ");
      expect(await sv(p.root, ["up"])).toEqual({ code: 1, stdout: `✘ web: web: port ${port} is already in use by pid ${process.pid} (${self}); stop that process, or publish another host port in ports:\n`, stderr: FAILED_ONE });
      await expectNothingLeft(engine(), p.name);
      expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
      await expectNothingLeft(engine(), p.name);
    } finally {
      holder.stop(true);
    }
  });

  test("a bind mount whose source does not exist", async () => {
    const p = containerProject(engine(), { web: { image: TEST_IMAGE, pull: "never", volumes: ["./nope:/data"] } });
    expect(await sv(p.root, ["up"])).toEqual({ code: 1, stdout: `✘ web: web: the bind mount source ${p.root}/nope does not exist; create it, or fix volumes:\n`, stderr: FAILED_ONE });
    await expectNothingLeft(engine(), p.name);
    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });

  test("an invalid port and an invalid volume are config errors at file:line:col, from sv validate and sv up (exit 2)", async () => {
    const name = `e2e-${crypto.randomUUID().slice(0, 8)}`;
    const p = tempProject({
      "sv.yml": `name: ${name}\ndocker: { host: "${engine().host}" }\n`,
      "services/web.yml": `image: ${TEST_IMAGE}\nports: ["80:80:80:80"]\nvolumes:\n  - nope\n`,
    });
    const problems =
      'services/web.yml:2:9: ports.0: "80:80:80:80" is not a port mapping like "8080:80" or "127.0.0.1:8080:80"\n' +
      'services/web.yml:4:5: volumes.0: "nope" is not a volume like "./data:/data" or "NAME:/data[:ro]"\n' +
      "✘ 2 problems in the configuration\n";
    expect(await sv(p.root, ["validate"])).toEqual({ code: 2, stdout: "", stderr: problems });
    expect(await sv(p.root, ["up"])).toEqual({ code: 2, stdout: "", stderr: problems });
    expect(await leftovers(engine(), name)).toEqual({ containers: [], volumes: [], networks: [] });
  });
});
