// The real-engine fixture itself (test/helpers/engines.ts): each engine starts on its own socket with the test
// image, containers on a user network find each other by name, a published port serves over real TCP, both
// engines run side by side, and stop() leaves no daemon, socket, bridge or iptables rule behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { ENGINE_KINDS, type Engine, type EngineKind, type NetSnapshot, TEST_IMAGE, netDiff, netSnapshot, othersOnHost, startEngine } from "../helpers/engines.ts";
import { freePort, isAlive, waitFor } from "../helpers/project.ts";

const LABEL = "sv.test=fixture";
const HTTPD = ["sh", "-c", 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait'];

async function httpGet(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return await res.text();
  } catch {
    return null;
  }
}

/** A container's stdout+stderr: the engine frames them (8-byte headers) when the container has no TTY. */
async function logsOf(engine: Engine, id: string): Promise<string> {
  const res = await fetch(`http://localhost/v1.41/containers/${id}/logs?stdout=1&stderr=1`, { unix: engine.socket } as RequestInit);
  const buf = new Uint8Array(await res.arrayBuffer());
  let out = "";
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = new DataView(buf.buffer, buf.byteOffset + i + 4, 4).getUint32(0);
    out += new TextDecoder().decode(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return out;
}

async function run(engine: Engine, name: string, body: Record<string, unknown>): Promise<string> {
  const { Id } = await engine.api("POST", `/containers/create?name=${name}`, { Image: TEST_IMAGE, Labels: { "sv.test": "fixture" }, ...body });
  await engine.api("POST", `/containers/${Id}/start`);
  return Id as string;
}

/** Two containers on a fresh user network: a client reaches the server by its name and gets "hello". */
async function nameResolution(engine: Engine, prefix: string): Promise<void> {
  const net = `${prefix}-net`;
  await engine.api("POST", "/networks/create", { Name: net, Labels: { "sv.test": "fixture" } });
  const web = await run(engine, `${prefix}-web`, { Cmd: HTTPD, HostConfig: { NetworkMode: net } });
  // The client retries inside the container (httpd may not listen yet): bounded, well under the test's timeout.
  const client = await run(engine, `${prefix}-client`, {
    Cmd: ["sh", "-c", `for i in $(seq 20); do timeout 1 wget -qO- http://${prefix}-web/ && exit 0; sleep 0.2; done; exit 1`],
    HostConfig: { NetworkMode: net },
  });
  const { StatusCode } = await engine.api("POST", `/containers/${client}/wait`);
  const output = await logsOf(engine, client);
  expect({ StatusCode, output: output.trim() }).toEqual({ StatusCode: 0, output: "hello" });
  for (const id of [client, web]) await engine.api("DELETE", `/containers/${id}?force=1`);
  await engine.api("DELETE", `/networks/${net}`);
}

/** A container with 127.0.0.1:P -> 80 serves "hello" to a plain TCP client on the host. */
async function publishedPort(engine: Engine, name: string): Promise<void> {
  const port = freePort();
  const id = await run(engine, name, {
    Cmd: HTTPD,
    // dockerd binds a PortBinding only for an exposed port (podman binds it either way)
    ExposedPorts: { "80/tcp": {} },
    HostConfig: { PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] } },
  });
  expect((await waitFor(() => httpGet(port), `${engine.kind}: 127.0.0.1:${port} serving`, 10_000)).trim()).toBe("hello");
  await engine.api("DELETE", `/containers/${id}?force=1`);
  expect(await waitFor(async () => (await httpGet(port)) === null, `${engine.kind}: port ${port} released`, 10_000)).toBe(true);
}

/**
 * stop() the engines and check they left nothing: no daemon, socket or dir, and the host's links and iptables as
 * before they started. When other engines run on the host too (a concurrent test run), they change the host
 * meanwhile (and a kind's shared chains stay until the last engine of it stops): then only what was these
 * engines' own (their bridges, rules naming them) must be gone.
 */
async function stopAndCheck(engines: Engine[], before: NetSnapshot): Promise<void> {
  const shared = othersOnHost(engines);
  const own = (await Promise.all(engines.map((e) => e.footprint()))).flatMap((f) => f.bridges);
  for (const engine of engines) await engine.stop();
  for (const engine of engines) {
    expect(existsSync(engine.socket)).toBe(false);
    expect(existsSync(engine.dir)).toBe(false);
    expect(await waitFor(() => !isAlive(engine.pid), `${engine.kind} daemon ${engine.pid} gone`, 5_000)).toBe(true);
  }
  const mentions = (line: string) => own.some((b) => new RegExp(`(^|[\\s"!])${b}($|[\\s"])`).test(line));
  const left = () => {
    const diff = netDiff(before, netSnapshot());
    return shared ? { links: diff.linksAdded.filter((l) => own.includes(l)), rules: diff.rulesAdded.filter(mentions) } : diff;
  };
  const none = shared ? { links: [], rules: [] } : { linksAdded: [], linksRemoved: [], rulesAdded: [], rulesRemoved: [] };
  // A network teardown the engine started (podman's cleanup process, netavark) may still be finishing: allow it a moment.
  const deadline = Date.now() + 5_000;
  while (!Bun.deepEquals(left(), none) && Date.now() < deadline) await Bun.sleep(100);
  expect(left()).toEqual(none);
}

for (const kind of ENGINE_KINDS) {
  describe(`${kind} engine`, () => {
    let engine: Engine;
    let before: NetSnapshot;
    beforeAll(async () => {
      before = netSnapshot();
      engine = await startEngine(kind);
    }, 60_000);
    afterAll(() => engine?.stop());

    test("answers /_ping on its own socket", async () => {
      expect(engine.host).toBe(`unix://${engine.socket}`);
      const res = await fetch("http://localhost/_ping", { unix: engine.socket } as RequestInit);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("OK");
    });

    test(`has ${TEST_IMAGE}`, async () => {
      const images: { RepoTags?: string[] | null }[] = await engine.api("GET", "/images/json");
      expect(images.some((i) => i.RepoTags?.includes(TEST_IMAGE))).toBe(true);
    });

    test("api() throws with the status and body on an error answer", async () => {
      expect(engine.api("GET", "/containers/no-such-container-here/json")).rejects.toThrow(/404/);
    });

    test("containers on a user network resolve each other by name", async () => {
      await nameResolution(engine, `svfx-${kind}`);
      expect(await engine.leftovers(LABEL)).toEqual({ containers: [], volumes: [], networks: [] });
    }, 45_000);

    test("leftovers() lists what carries the label", async () => {
      const net = await engine.api("POST", "/networks/create", { Name: `svfx-${kind}-left`, Labels: { "sv.test": "fixture" } });
      const vol = await engine.api("POST", "/volumes/create", { Name: `svfx-${kind}-vol`, Labels: { "sv.test": "fixture" } });
      const { Id } = await engine.api("POST", `/containers/create?name=svfx-${kind}-idle`, { Image: TEST_IMAGE, Cmd: ["true"], Labels: { "sv.test": "fixture" } });
      expect(await engine.leftovers(LABEL)).toEqual({ containers: [Id], volumes: [vol.Name], networks: [net.Id] });
      expect(await engine.leftovers("sv.test=other")).toEqual({ containers: [], volumes: [], networks: [] });
      await engine.api("DELETE", `/containers/${Id}?force=1`);
      await engine.api("DELETE", `/volumes/${vol.Name}`);
      await engine.api("DELETE", `/networks/${net.Id}`);
      expect(await engine.leftovers(LABEL)).toEqual({ containers: [], volumes: [], networks: [] });
    });

    test("a published port serves over real TCP", async () => {
      await publishedPort(engine, `svfx-${kind}-pub`);
    });

    test("stop() leaves no daemon, socket, dir, bridge or iptables rule", async () => {
      // something for the teardown to clean: a running container on a user network with a published port
      await engine.api("POST", "/networks/create", { Name: `svfx-${kind}-end`, Labels: { "sv.test": "fixture" } });
      const port = freePort();
      await run(engine, `svfx-${kind}-end`, { Cmd: HTTPD, ExposedPorts: { "80/tcp": {} }, HostConfig: { NetworkMode: `svfx-${kind}-end`, PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] } } });
      await waitFor(() => httpGet(port), `${kind}: 127.0.0.1:${port} serving`, 10_000);
      await stopAndCheck([engine], before);
      expect(await httpGet(port)).toBeNull();
    }, 45_000);
  });
}

describe("podman and dockerd side by side", () => {
  const engines: Engine[] = [];
  let before: NetSnapshot;
  beforeAll(async () => {
    before = netSnapshot();
    engines.push(...(await Promise.all((["podman", "docker"] as EngineKind[]).map((k) => startEngine(k)))));
  }, 60_000);
  afterAll(() => Promise.all(engines.map((e) => e.stop())));

  test("both resolve names on their networks and serve published ports at once", async () => {
    await Promise.all(engines.map((e) => nameResolution(e, `svfx-both-${e.kind}`)));
    await Promise.all(engines.map((e) => publishedPort(e, `svfx-both-${e.kind}-pub`)));
  }, 45_000);

  test("their networks do not overlap", async () => {
    const [a, b] = await Promise.all(engines.map((e) => e.footprint()));
    expect(a!.bridges.filter((x) => b!.bridges.includes(x))).toEqual([]);
    expect(a!.subnets.filter((x) => b!.subnets.includes(x))).toEqual([]);
  });

  test("stopping both leaves the host as it was", async () => {
    await stopAndCheck(engines, before);
  }, 45_000);
});
