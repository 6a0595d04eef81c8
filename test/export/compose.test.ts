// sv export compose through dist/sv: both flavours pass the compose-spec JSON schema (ajv), and the stack
// flavour runs on a real single-node swarm of Debian's dockerd: the example stack (process services in an
// image that has bun, the project mounted) and a container project both answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { type Engine, startEngine } from "../helpers/engines.ts";
import { sv, waitFor } from "../helpers/project.ts";
import { RUN_IMAGE, composeProblems, containerProject, exampleProject, httpGet, importRunImage, removeRunImageTar, startSwarm } from "./support.ts";

const BOX = "localhost/svbox:1";

describe("sv export compose: the compose-spec schema", () => {
  test("the example stack with --image: process services on the host network, the project bind-mounted, depends_on conditions", async () => {
    const { project, env, dbPort, apiPort } = exampleProject();
    const r = await sv(project.root, ["export", "compose", "--image", RUN_IMAGE], { env });
    expect(r.code).toBe(0);
    expect(await composeProblems(r.stdout)).toEqual([]);
    const doc = parse(r.stdout);
    expect(Object.keys(doc.services)).toEqual(["db", "migrate", "api", "worker"]);
    const api = doc.services.api;
    expect(api).toMatchObject({ image: RUN_IMAGE, command: ["./node_modules/.bin/bun", "services/bin/api.ts"], working_dir: project.root, network_mode: "host", restart: "on-failure:10", stop_grace_period: "10s" });
    expect(api.volumes).toEqual([{ type: "bind", source: project.root, target: project.root }]);
    expect(api.depends_on).toEqual({ db: { condition: "service_healthy" }, migrate: { condition: "service_completed_successfully" } });
    expect(api.environment).toMatchObject({ PORT: String(apiPort), DB_HOST: "127.0.0.1", DB_PORT: String(dbPort), SV_SERVICE: "api" });
    expect(api.healthcheck.test[1]).toContain(`http://127.0.0.1:${apiPort}/health`);
    expect(doc.services.migrate.restart).toBe("no");
    expect(doc.services.worker.depends_on).toEqual({ api: { condition: "service_healthy" } });
    expect(doc.services.worker.command).toEqual(["/bin/sh", "-c", "./node_modules/.bin/bun services/bin/worker.ts"]);
    expect(r.stderr).toContain(`api: api\n  changed: command: runs in ${RUN_IMAGE} on the host's network (as under sv: it listens on and reaches 127.0.0.1), with the project bind-mounted at ${project.root}\n`);
  });

  test("a container project, both flavours; a $ stays literal; remote services and process services without --image are listed as not exported", async () => {
    const { project, webPort, cachePort } = containerProject(BOX);
    project.write("sv.yml", "name: shop\nhosts:\n  web1: { address: 10.0.0.11 }\n");
    project.write("services/far.yml", "host: web1\ncommand: sleep 100\n");
    project.write("services/local.yml", "command: sleep 100\ndepends_on: [far]\n");
    const plain = await sv(project.root, ["export", "compose", "--json"]);
    expect(plain.code).toBe(0);
    const report = JSON.parse(plain.stdout);
    expect(await composeProblems(report.document)).toEqual([]);
    const doc = parse(report.document);
    expect(Object.keys(doc.services).sort()).toEqual(["cache", "init", "web"]);
    expect(report.document).toStartWith("# docker compose -p shop -f FILE up: written by sv export compose from ");
    expect(doc.volumes).toEqual({ webdata: {} });
    const web = doc.services.web;
    expect(web.ports).toEqual([{ target: 80, published: webPort, host_ip: "127.0.0.1", protocol: "tcp" }]);
    expect(web.depends_on).toEqual({ cache: { condition: "service_healthy" }, init: { condition: "service_completed_successfully" } });
    expect(web.environment).toMatchObject({ GREETING: "hello from web", CACHE_HOST: "cache", CACHE_PORT: "8080" });
    expect(web.restart).toBe("on-failure:10");
    // compose would expand $CACHE_ADDR itself: it is written $$ so the container's shell sees it
    expect(web.command[0]).toContain("http://$$CACHE_ADDR/");
    expect(doc.services.cache.healthcheck.test[1]).toContain("nc -z 127.0.0.1 8080");
    expect(doc.services.cache.ports).toEqual([{ target: 8080, published: cachePort, host_ip: "127.0.0.1", protocol: "tcp" }]);
    const of = (n: string) => report.services.find((s: { name: string }) => s.name === n);
    expect(of("far")).toMatchObject({ exported: false, unmapped: [{ key: "host", message: "runs on host web1 over ssh: a container engine cannot run it; export it from a project where it is local, or make it an image: service" }] });
    expect(of("local")).toMatchObject({ exported: false, unmapped: [{ key: "command", message: "a process service needs an image to run in: pass --image IMG (a base image with what its command needs; the project is mounted at its own path)" }] });
    expect(plain.stderr).toBe("");

    const swarm = await sv(project.root, ["export", "compose", "--swarm", "--image", BOX]);
    expect(swarm.code).toBe(0);
    expect(await composeProblems(swarm.stdout)).toEqual([]);
    const stack = parse(swarm.stdout);
    expect(stack.version).toBe("3.9");
    expect(stack.services.web.depends_on).toEqual(["cache", "init"]);
    expect(stack.services.web.ports).toEqual([{ target: 80, published: webPort, protocol: "tcp", mode: "host" }]);
    expect(stack.services.web.deploy).toEqual({ restart_policy: { condition: "on-failure", delay: "100ms", max_attempts: 10 }, endpoint_mode: "dnsrr" });
    expect(stack.services.web.entrypoint.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(stack.services.web.entrypoint.slice(3)).toEqual(["sh", "/bin/sh", "-c"]);
    expect(stack.services.local.depends_on).toBeUndefined();
    expect(stack.services.local.network_mode).toBeUndefined();
    expect(stack.services.local.networks).toEqual(["hostnet"]);
    expect(stack.networks).toEqual({ hostnet: { external: true, name: "host" } });
    expect(swarm.stderr).toContain("local: local\n");
    expect(swarm.stderr).toContain("  not mapped: depends_on.far: far is not exported (runs on host web1 over ssh): nothing waits for it\n");
    expect(swarm.stderr).toContain("  changed: ports: 127.0.0.1:" + webPort + ": a swarm port is published on every address of the node (no host IP)\n");
    expect(swarm.stderr).toContain("  changed: depends_on.init: docker stack deploy ignores depends_on, and nothing in a swarm can wait for init to complete: the restart policy retries until it has\n");
  });

  test("instances with a port: one service per instance, each on its own port; without one, replicas", async () => {
    const { project } = containerProject(BOX);
    project.write("services/pool.yml", `image: ${BOX}\ncommand: [httpd, -f, -p, "80"]\nports: ["127.0.0.1:19180:80"]\ninstances: 2\n`);
    project.write("services/crunch.yml", `image: ${BOX}\ncommand: [sleep, "1000"]\ninstances: 3\nlimits: { memory: 32M, nofile: 512 }\n`);
    const r = await sv(project.root, ["export", "compose", "pool", "crunch"]);
    expect(r.code).toBe(0);
    expect(await composeProblems(r.stdout)).toEqual([]);
    const doc = parse(r.stdout);
    expect(Object.keys(doc.services)).toEqual(["crunch", "pool-0", "pool-1"]);
    expect(doc.services["pool-1"].ports[0].published).toBe(19181);
    expect(doc.services["pool-1"].environment).toMatchObject({ SV_INSTANCE: "1", PORT: "19181" });
    expect(doc.services.crunch.deploy).toEqual({ resources: { limits: { memory: "32m" } }, replicas: 3 });
    expect(doc.services.crunch.ulimits).toEqual({ nofile: { soft: 512, hard: 512 } });
  });
});

const DOCKERD = Bun.which("dockerd");

describe.skipIf(!DOCKERD)("sv export compose --swarm on a single-node swarm of Debian's dockerd", () => {
  let engine: Engine;
  let swarm: Awaited<ReturnType<typeof startSwarm>>;
  beforeAll(async () => {
    engine = await startEngine("docker");
    await importRunImage(engine);
    swarm = await startSwarm(engine);
  }, 60_000);
  afterAll(async () => {
    await swarm?.leave();
    await engine?.stop();
    removeRunImageTar();
  }, 60_000);

  test("docker stack deploy of the exported example stack and container project: the api is healthy and web serves what it fetched from cache", async () => {
    const ex = exampleProject();
    const shop = containerProject(BOX);
    const exported = await Promise.all([sv(ex.project.root, ["export", "compose", "--swarm", "--image", RUN_IMAGE], { env: ex.env }), sv(shop.project.root, ["export", "compose", "--swarm"])]);
    for (const e of exported) expect(e.code).toBe(0);
    writeFileSync(join(ex.project.root, "stack.yaml"), exported[0]!.stdout);
    writeFileSync(join(shop.project.root, "stack.yaml"), exported[1]!.stdout);
    const t0 = performance.now();
    for (const [dir, name] of [[ex.project.root, "example"], [shop.project.root, "shop"]] as const) {
      const d = await swarm.docker(["stack", "deploy", "--resolve-image", "never", "-c", join(dir, "stack.yaml"), name]);
      expect({ name, code: d.code, out: d.code ? d.out : "" }).toEqual({ name, code: 0, out: "" });
    }
    const api = await waitFor(async () => (await httpGet(`http://127.0.0.1:${ex.apiPort}/health`))?.status === 200 || undefined, "the example api healthy on the swarm", 60_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}\n${(await swarm.docker(["service", "ps", "--no-trunc", "example_api", "example_db", "example_migrate"])).out}`);
    });
    expect(api).toBe(true);
    const web = await waitFor(async () => {
      const r = await httpGet(`http://127.0.0.1:${shop.webPort}/`);
      return r?.status === 200 ? r.body : undefined;
    }, "web answering on the swarm", 60_000).catch(async (e) => {
      const ps = await swarm.docker(["service", "ps", "--no-trunc", "shop_web", "shop_cache", "shop_init"]);
      const logs = await swarm.docker(["service", "logs", "shop_web"]);
      throw new Error(`${(e as Error).message}\n${ps.out}\n${logs.out}`);
    });
    expect(web).toBe("hello from web\n");
    expect((await httpGet(`http://127.0.0.1:${shop.webPort}/cache.html`))?.body).toBe("cached\n");
    console.error(`swarm: both stacks answered ${Math.round(performance.now() - t0)} ms after deploy`);
    for (const name of ["example", "shop"]) expect((await swarm.docker(["stack", "rm", name])).code).toBe(0);
  }, 120_000);
});
