// A container's keys: what they become (the Service's container spec, and the create body the engine
// gets), and the exact line for each bad value.
import { describe, expect, test } from "bun:test";
import { createBody } from "../../src/backends/container/create.ts";
import { defaultProjectName, parsePort, parseVolume } from "../../src/config/container.ts";
import { apiProblems, load, problemsOf } from "./helpers.ts";

const F = "services/api.yml";
const IMAGE = "image: localhost/svbox:1";

describe("ports and volumes as compose writes them", () => {
  test.each([
    ["8080:80", { hostIp: "", hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    ["127.0.0.1:8080:80", { hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    ["[::1]:8080:80/udp", { hostIp: "::1", hostPort: 8080, containerPort: 80, protocol: "udp" }],
    ["80", { hostIp: "", hostPort: undefined, containerPort: 80, protocol: "tcp" }],
  ])("%s", (spec, expected) => expect(parsePort(spec)).toEqual(expected as never));

  test.each([
    ["8000-8001:80-81", '"8000-8001:80-81": port ranges are not supported; list each port'],
    ["http", '"http" is not a port mapping like "8080:80" or "127.0.0.1:8080:80"'],
    ["70000:80", '"70000:80": ports must be 1-65535'],
    ["300.1.1.1:80:80", '"300.1.1.1:80:80": 300.1.1.1 is not an IPv4 address'],
  ])("%s is refused", (spec, message) => expect(parsePort(spec)).toBe(message));

  test("volumes: a relative bind from the root, an absolute bind, a named volume, read-only", () => {
    expect(parseVolume("./data:/data", "/p")).toEqual({ kind: "bind", source: "/p/data", target: "/data", readOnly: false });
    expect(parseVolume("/srv/x:/x:ro", "/p")).toEqual({ kind: "bind", source: "/srv/x", target: "/x", readOnly: true });
    expect(parseVolume("cache:/var/cache", "/p")).toEqual({ kind: "volume", source: "cache", target: "/var/cache", readOnly: false });
  });

  test("the default project name is the folder's, as compose makes it", () => {
    expect(defaultProjectName("/home/me/My App")).toBe("my-app");
    expect(defaultProjectName("/srv/_x")).toBe("x");
  });
});

describe("a container's definition", () => {
  test("image makes command optional; the first published host port is the service's port and its implied probe", async () => {
    const p = await load({ "services/web.yml": `${IMAGE}\nports: ["127.0.0.1:18080:80", "9000:90"]\nvolumes: ["./data:/data", "cache:/c:ro"]\ncwd: /srv\n` });
    const web = p.services.get("web")!;
    expect(web.port).toBe(18080);
    expect(web.healthCheck).toMatchObject({ type: "tcp", port: 18080 });
    expect(web.container).toMatchObject({ image: "localhost/svbox:1", command: undefined, containerPort: 80, pull: "missing", networkMode: "project", workdir: "/srv" });
    expect(web.container!.volumes[0]).toEqual({ kind: "bind", source: `${p.root}/data`, target: "/data", readOnly: false });
  });

  test("the create body: labels, ports, binds with project-named volumes, limits, stop signal, aliases on the project network", async () => {
    const p = await load({
      "sv.yml": "name: shop\n",
      "services/web.yml": `${IMAGE}\ncommand: echo hi\nports: ["127.0.0.1:18080:80"]\nvolumes: ["cache:/c:ro"]\nuser: nobody\nlimits: { memory: 64M, nofile: 512 }\nstop_signal: INT\nstop_timeout: 1500ms\nenv: { A: "1" }\n`,
    });
    const web = p.services.get("web")!;
    const spec = { hash: "h", type: "simple", backend: "container", stop_signal: "SIGINT", stop_timeout_ms: 1500, port: 18080 };
    const body = createBody(p, { unit: "web", svc: web, instance: 0, env: { PORT: "18080", SV_SERVICE: "web" }, inherited: {}, port: 18080, spec }, "10.89.0.1") as any;
    expect(body.Cmd).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(body.Env.sort()).toEqual(["A=1", "PORT=80", "SV_SERVICE=web"]);
    expect(body.Labels).toMatchObject({ "dev.sv.project": "shop", "dev.sv.unit": "web", "dev.sv.hash": "h" });
    expect(body.User).toBe("nobody");
    expect(body.StopSignal).toBe("SIGINT");
    expect(body.StopTimeout).toBe(2);
    expect(body.HostConfig).toMatchObject({
      NetworkMode: "shop-sv",
      PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "18080" }] },
      Binds: ["shop_cache:/c:ro"],
      Memory: 64 << 20,
      Ulimits: [{ Name: "nofile", Soft: 512, Hard: 512 }],
      RestartPolicy: { Name: "no" },
      ExtraHosts: ["host.sv.internal:10.89.0.1"],
    });
    expect(body.NetworkingConfig.EndpointsConfig["shop-sv"].Aliases).toEqual(["web", "web"]);
  });

  test("instance i publishes each host port + i", async () => {
    const p = await load({ "services/web.yml": `${IMAGE}\ninstances: 2\nports: ["18080:80"]\n` });
    const web = p.services.get("web")!;
    const spec = { hash: "h", type: "simple", backend: "container", stop_signal: "SIGTERM", stop_timeout_ms: 10_000, port: 18081 };
    const body = createBody(p, { unit: "web.1", svc: web, instance: 1, env: {}, inherited: {}, spec }) as any;
    expect(body.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "", HostPort: "18081" }] });
  });

  test("a container's address: published port from sv and processes, service name and container port from a container", async () => {
    const p = await load({
      "services/db.yml": `${IMAGE}\nports: ["127.0.0.1:15432:5432"]\n`,
      "services/api.yml": `${IMAGE}\ndepends_on: [db]\n`,
      "services/cli.yml": "command: sleep 1\ndepends_on: [db]\n",
    });
    const { createBackends } = await import("../../src/backends/registry.ts");
    const { projectPaths } = await import("../../src/paths.ts");
    const backends = createBackends(projectPaths(p.root), p);
    const db = p.services.get("db")!;
    expect(backends.for(db).address(db, 0)).toEqual({ host: "127.0.0.1", port: 15432 });
    expect(backends.for(db).address(db, 0, p.services.get("cli"))).toEqual({ host: "127.0.0.1", port: 15432 });
    expect(backends.for(db).address(db, 0, p.services.get("api"))).toEqual({ host: "db", port: 5432 });
  });
});

describe("bad container keys: the exact line", () => {
  test.each([
    ["ports not a list", `${IMAGE}\nports: "80:80"\n`, [`${F}:2:8: ports: must be a list like ["127.0.0.1:8080:80"]`]],
    ["a bad port", `${IMAGE}\nports: ["80:x"]\n`, [`${F}:2:9: ports.0: "80:x" is not a port mapping like "8080:80" or "127.0.0.1:8080:80"`]],
    ["a volume without a source", `${IMAGE}\nvolumes: ["/data"]\n`, [`${F}:2:11: volumes.0: "/data" is not a volume like "./data:/data" or "NAME:/data[:ro]"`]],
    ["a relative container path", `${IMAGE}\nvolumes: ["./d:data"]\n`, [`${F}:2:11: volumes.0: "./d:data": the container path must be absolute (like /data)`]],
    ["a bad mode", `${IMAGE}\nvolumes: ["./d:/d:rx"]\n`, [`${F}:2:11: volumes.0: "./d:/d:rx": the mode must be ro or rw (got "rx")`]],
    ["a bad pull", `${IMAGE}\npull: sometimes\n`, [`${F}:2:7: pull: must be one of missing, always, never (got "sometimes")`]],
    ["a bad network_mode", `${IMAGE}\nnetwork_mode: bridge\n`, [`${F}:2:15: network_mode: must be one of project, host, none (got "bridge")`]],
    ["ports on a process", "command: x\nports: ['80:80']\n", [`${F}:2:8: ports: only a container has ports: (add image:, or remove it; a process's port is port:)`]],
    ["host networking with ports", `${IMAGE}\nnetwork_mode: host\nports: ['80:80']\n`, [`${F}:3:8: ports: a container with network_mode: host publishes no ports (it uses the host's; say port: instead)`]],
    ["a relative cwd", `${IMAGE}\ncwd: srv\n`, [`${F}:2:6: cwd: a container's cwd is a path inside it and must be absolute (got "srv")`]],
  ])("%s", async (_title, yaml, expected) => {
    expect(await apiProblems(yaml)).toEqual(expected);
  });

  test("sv.yml: a bad project name, a docker host that is not a unix socket, plugins not a list", async () => {
    expect(await problemsOf({ "sv.yml": "name: My Shop\ndocker: { host: tcp://1.2.3.4:2375 }\nplugins: x\n" })).toEqual([
      "sv.yml:1:7: name: must be a project name: [a-z0-9][a-z0-9_.-]{0,62} (it names containers, networks and volumes)",
      "sv.yml:2:17: docker.host: must be unix:///path/to/socket (or a path)",
      'sv.yml:3:10: plugins: must be a list of modules: ["./plugins/my-backend.ts", "an-npm-package"]',
    ]);
  });
});
