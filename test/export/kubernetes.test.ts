// sv export kubernetes through dist/sv: the manifests pass kubernetes-models' validation (types, enums,
// required fields) and a strict tsc check against kubernetes-types (unknown fields), and `podman kube play`
// runs them: the example stack's api turns healthy after its initContainers waited for db and ran the
// migration, and a container project's web serves what it fetched from cache.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Engine, startEngine } from "../helpers/engines.ts";
import { freePort, sv, waitFor } from "../helpers/project.ts";
import { RUN_IMAGE, containerProject, exampleProject, httpGet, importRunImage, k8sDocuments, k8sModelProblems, k8sStrictTsc, removeRunImageTar, runCli } from "./support.ts";

const BOX = "localhost/svbox:1";

/** Both offline checks of a manifest stream. */
async function expectValid(text: string): Promise<void> {
  expect(await k8sModelProblems(text)).toEqual([]);
  const tsc = k8sStrictTsc(text);
  expect(tsc.output).toBe("");
  expect(tsc.code).toBe(0);
}

describe("sv export kubernetes: kubernetes-models and kubernetes-types", () => {
  test("the example stack: Pods on the host network, initContainers that wait for db and run the migration, a Service per port", async () => {
    const { project, env, apiPort, dbPort } = exampleProject();
    const r = await sv(project.root, ["export", "kubernetes", "--image", RUN_IMAGE], { env });
    expect(r.code).toBe(0);
    await expectValid(r.stdout);
    const docs = k8sDocuments(r.stdout);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(["Pod/db", "Service/db", "Pod/api", "Service/api", "Pod/worker"]);
    const api = docs.find((d) => d.kind === "Pod" && d.metadata.name === "api")!;
    expect(api.metadata.annotations).toEqual({ "sv/depends-on": "db=healthy,migrate=completed" });
    expect(api.spec).toMatchObject({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet", restartPolicy: "OnFailure", terminationGracePeriodSeconds: 10 });
    expect(api.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["wait-db", "migrate"]);
    expect(api.spec.initContainers[0]).toEqual({ name: "wait-db", image: "busybox:1.36", command: ["/bin/sh", "-c", `until nc -z 127.0.0.1 ${dbPort} 2>/dev/null || timeout 2 nc 127.0.0.1 ${dbPort} </dev/null >/dev/null 2>&1; do sleep 1; done`] });
    expect(api.spec.initContainers[1]).toMatchObject({ image: RUN_IMAGE, command: ["./node_modules/.bin/bun", "services/bin/migrate.ts"], workingDir: project.root });
    expect(api.spec.volumes).toEqual([{ name: "project", hostPath: { path: project.root, type: "Directory" } }]);
    const main = api.spec.containers[0];
    expect(main.readinessProbe).toEqual({ httpGet: { path: "/health", port: apiPort, scheme: "HTTP", host: "127.0.0.1" }, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 3 });
    expect(main.startupProbe.failureThreshold).toBe(60);
    expect(main.env).toContainEqual({ name: "DB_ADDR", value: `127.0.0.1:${dbPort}` });
    expect(docs.find((d) => d.kind === "Service" && d.metadata.name === "db")!.spec.ports).toEqual([{ name: "main", port: dbPort, targetPort: dbPort, protocol: "TCP" }]);
    expect(r.stderr).toContain("migrate: initContainer migrate of api\n  changed: type: oneshot: runs as an initContainer of api, so it starts only once it has completed\n");
    expect(r.stderr).toContain("api: Pod/api, Service/api\n");
    expect(r.stderr).toContain("  changed: restart: restart: on-failure: a Pod with restartPolicy: OnFailure, since a Deployment's pods always restart (restart: always makes it a Deployment)\n");
  });

  test("containers: a Deployment (restart: always) with replicas, hostPort, a PVC, probes inside the pod; on-demand, multi-shot, a lone oneshot; what cannot map is said", async () => {
    const { project, webPort } = containerProject(BOX);
    project.write("services/pool.yml", `image: ${BOX}\ncommand: [httpd, -f, -p, "80"]\nrestart: always\ninstances: 3\nport: 8080\nlimits: { memory: 32M, nofile: 64 }\nstop_signal: SIGINT\nuser: "1000"\nhooks: { post_start: [echo, hi], pre_stop: [echo, bye], post_stop: [echo, gone] }\n`);
    project.write("services/later.yml", `image: ${BOX}\ntype: on-demand\nrestart: always\ncommand: [sleep, "100"]\n`);
    project.write("services/job.yml", `image: ${BOX}\ntype: multi-shot\ncommand: [echo, run]\n`);
    project.write("services/once.yml", `image: ${BOX}\ntype: oneshot\nrestart: on-failure\nmax_restarts: 2\ncommand: [echo, once]\n`);
    const r = await sv(project.root, ["export", "k8s", "--json", "--out", join(project.root, "k8s"), "--wait-image", BOX]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const files = report.files.map((f: { path: string }) => f.path.slice(project.root.length + 1)).sort();
    expect(files).toEqual(["k8s/cache.yaml", "k8s/job.yaml", "k8s/later.yaml", "k8s/once.yaml", "k8s/pool.yaml", "k8s/volumes.yaml", "k8s/web.yaml"]);
    const all = files.map((f: string) => project.read(f)).join("---\n");
    await expectValid(all);
    const docs = k8sDocuments(all);
    const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
    const pool = find("Deployment", "pool");
    expect(pool.spec.replicas).toBe(3);
    expect(pool.spec.template.spec.securityContext).toEqual({ runAsUser: 1000 });
    expect(pool.spec.template.spec.containers[0]).toMatchObject({ args: ["httpd", "-f", "-p", "80"], resources: { limits: { memory: "32Mi" } }, lifecycle: { postStart: { exec: { command: ["echo", "hi"] } }, preStop: { exec: { command: ["echo", "bye"] } } } });
    expect(find("Deployment", "later").spec.replicas).toBe(0);
    expect(find("CronJob", "job").spec.suspend).toBe(true);
    expect(find("Job", "once").spec).toMatchObject({ backoffLimit: 2, template: { spec: { restartPolicy: "OnFailure" } } });
    const web = find("Pod", "web");
    expect(web.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["wait-cache", "init"]);
    expect(web.spec.initContainers[0].command[2]).toContain("nc -z cache 8080");
    expect(web.spec.containers[0].ports).toEqual([{ containerPort: 80, hostPort: webPort, hostIP: "127.0.0.1", protocol: "TCP" }]);
    expect(web.spec.containers[0].readinessProbe.httpGet).toEqual({ path: "/", port: 80, scheme: "HTTP" });
    expect(web.spec.volumes).toEqual([{ name: "vol-webdata", persistentVolumeClaim: { claimName: "shop-webdata" } }]);
    expect(find("PersistentVolumeClaim", "shop-webdata").spec.resources.requests.storage).toBe("1Gi");
    expect(find("Service", "cache").spec.ports[0].port).toBe(8080);
    const of = (n: string) => report.services.find((s: { name: string }) => s.name === n);
    expect(of("pool").unmapped).toEqual([
      { key: "max_restarts", message: "a Deployment restarts its pods without limit" },
      { key: "stop_signal", message: "Kubernetes stops containers with the image's STOPSIGNAL (SIGTERM by default), not SIGINT: set it in the image" },
      { key: "limits.nofile", message: "Kubernetes has no per-container open-files limit (the node's container runtime sets it)" },
      { key: "hooks.post_stop", message: "Kubernetes has no hook after a container stops" },
    ]);
    expect(of("pool").changed).toContainEqual({ key: "instances", message: "replicas are alike: SV_INSTANCE is 0 in every one" });
    expect(of("later").changed).toContainEqual({ key: "type", message: "on-demand: a Deployment with 0 replicas; `kubectl scale deployment/later --replicas=1` starts it" });
  });

  test("instances of a process service with a port: one Pod and Service per instance, on port+i", async () => {
    const { project, env } = exampleProject();
    const port = freePort();
    project.write("services/pool.yml", `command: [sleep, "100"]\ninstances: 2\nport: ${port}\n`);
    const r = await sv(project.root, ["export", "kubernetes", "--image", RUN_IMAGE, "pool"], { env });
    expect(r.code).toBe(0);
    await expectValid(r.stdout);
    const docs = k8sDocuments(r.stdout);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(["Pod/pool-0", "Pod/pool-1", "Service/pool-0", "Service/pool-1"]);
    expect(docs[1]!.spec.containers[0].env).toContainEqual({ name: "PORT", value: String(port + 1) });
    expect(docs[1]!.spec.containers[0].env).toContainEqual({ name: "SV_INSTANCE", value: "1" });
    expect(docs[3]!.spec.ports[0].port).toBe(port + 1);
  });
});

const PODMAN = Bun.which("podman");

describe.skipIf(!PODMAN)("sv export kubernetes under podman kube play", () => {
  let engine: Engine;
  const network = `svk8s${process.pid}`;
  const podman = (args: string[], timeoutMs = 60_000) => runCli(["podman", "--url", engine.host, ...args], { timeoutMs });
  beforeAll(async () => {
    engine = await startEngine("podman");
    await importRunImage(engine);
    // pods reach each other by pod name only on a network with DNS (the default one has none)
    const n = await podman(["network", "create", network]);
    if (n.code !== 0) throw new Error(`podman network create: ${n.out}`);
  }, 60_000);
  afterAll(async () => {
    await engine?.stop();
    removeRunImageTar();
  }, 60_000);

  test("the example stack's api turns healthy, and web serves what it fetched from cache", async () => {
    const ex = exampleProject();
    const shop = containerProject(BOX);
    const stampPort = freePort();
    shop.project.write("services/stamp.yml", `image: ${BOX}\nrestart: always\ncommand: ["/bin/sh", "-c", "trap 'exit 0' TERM; mkdir -p /s; echo stamp > /s/index.html; httpd -f -p 80 -h /s & wait"]\nports: ["127.0.0.1:${stampPort}:80"]\n`);
    const exported = await Promise.all([sv(ex.project.root, ["export", "kubernetes", "--image", RUN_IMAGE, "--wait-image", BOX], { env: ex.env }), sv(shop.project.root, ["export", "kubernetes", "--wait-image", BOX])]);
    for (const e of exported) expect(e.code).toBe(0);
    const files = [join(ex.project.root, "k8s.yaml"), join(shop.project.root, "k8s.yaml")];
    files.forEach((f, i) => writeFileSync(f, exported[i]!.stdout));
    const t0 = performance.now();
    // kube play returns once every pod's initContainers have run, so each stack is played on its own. The
    // example's pods use the host's network (--network would override it); the containers a network with DNS.
    const plays = await Promise.all([podman(["kube", "play", files[0]!], 90_000), podman(["kube", "play", "--network", network, files[1]!], 90_000)]);
    for (const p of plays) expect({ code: p.code, out: p.code ? p.out : "" }).toEqual({ code: 0, out: "" });
    const api = await waitFor(async () => (await httpGet(`http://127.0.0.1:${ex.apiPort}/health`))?.status === 200 || undefined, "the example api healthy under podman", 30_000);
    expect(api).toBe(true);
    expect(await waitFor(async () => (await httpGet(`http://127.0.0.1:${shop.webPort}/`))?.body, "web answering under podman", 30_000)).toBe("hello from web\n");
    expect((await httpGet(`http://127.0.0.1:${shop.webPort}/cache.html`))?.body).toBe("cached\n");
    expect((await waitFor(async () => (await httpGet(`http://127.0.0.1:${stampPort}/`))?.body, "the Deployment's pod answering", 30_000))).toBe("stamp\n");
    console.error(`podman kube play: both stacks answered ${Math.round(performance.now() - t0)} ms after play began`);
    for (const f of files) await podman(["kube", "down", f], 60_000);
  }, 150_000);
});
