// sv export systemd through dist/sv: units systemd-analyze verify passes with exit 0 and no output, their
// mapping (Requires/After, oneshot with RemainAfterExit, templates for instances, the project target), the
// wait-until-healthy step run for real, what is reported as not mapped, and the bad-input lines.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, sv, tempProject } from "../helpers/project.ts";
import { exampleProject, runCli } from "./support.ts";

/** systemd-analyze verify of every unit in `dir`: clean means exit 0 and no output at all. */
async function verify(dir: string): Promise<{ code: number; out: string }> {
  const units = readdirSync(dir).filter((f) => /\.(service|target)$/.test(f)).map((f) => join(dir, f));
  return runCli(["systemd-analyze", "verify", ...units], { timeoutMs: 20_000 });
}

/** The words of an Exec*= line as systemd splits and unescapes them (quotes, C escapes, $$ and %%). */
function execWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " ") i++;
    if (i >= line.length) break;
    let w = "";
    if (line[i] === '"') {
      for (i++; line[i] !== '"'; i++) {
        if (line[i] === "\\") {
          const c = line[++i]!;
          w += c === "n" ? "\n" : c === "r" ? "\r" : c === "t" ? "\t" : c;
        } else w += line[i];
      }
      i++;
    } else for (; i < line.length && line[i] !== " "; i++) w += line[i];
    words.push(w.replaceAll("$$", "$").replaceAll("%%", "%"));
  }
  return words;
}

const SYSTEMD = Bun.which("systemd-analyze");

describe.skipIf(!SYSTEMD)("sv export systemd", () => {
  test("the example stack: units that verify clean, dependencies as Requires/After, the migration a oneshot that stays active", async () => {
    const { project, env, apiPort, dbPort } = exampleProject();
    const out = join(project.root, "units");
    const r = await sv(project.root, ["export", "systemd", "--out", out], { env });
    expect(r.code).toBe(0);
    const files = readdirSync(out).sort();
    const prefix = files.find((f) => f.endsWith("-api.service"))!.replace(/api\.service$/, "");
    expect(files).toEqual([`${prefix}api.service`, `${prefix}db.service`, `${prefix}migrate.service`, `${prefix}worker.service`, `${prefix.slice(0, -1)}.target`].sort());
    const v = await verify(out);
    expect(v).toEqual({ code: 0, out: "" });

    const api = readFileSync(join(out, `${prefix}api.service`), "utf8");
    expect(api).toContain(`Requires=${prefix}db.service ${prefix}migrate.service\n`);
    expect(api).toContain(`After=${prefix}db.service ${prefix}migrate.service\n`);
    expect(api).toContain(`Environment="DB_ADDR=127.0.0.1:${dbPort}"`);
    expect(api).toContain(`Environment="PORT=${apiPort}"`);
    expect(api).toContain(`WorkingDirectory=${project.root}\n`);
    expect(api).toContain(`ExecStart=${project.root}/node_modules/.bin/bun services/bin/api.ts\n`);
    expect(api).toMatch(/^ExecStartPost=\/bin\/bash -c "until .*\/health/m);
    const migrate = readFileSync(join(out, `${prefix}migrate.service`), "utf8");
    expect(migrate).toContain("Type=oneshot\nRemainAfterExit=yes\n");
    expect(migrate).toContain("Restart=no\n");
    const db = readFileSync(join(out, `${prefix}db.service`), "utf8");
    expect(db).toContain("TimeoutStopSec=5s\n");
    expect(db).toContain("KillSignal=SIGTERM\n");
    const target = readFileSync(join(out, `${prefix.slice(0, -1)}.target`), "utf8");
    expect(target).toContain(`Wants=${prefix}db.service ${prefix}migrate.service ${prefix}api.service ${prefix}worker.service\n`);
    expect(target).toContain("WantedBy=multi-user.target");
    // every service is reported, with what maps differently
    expect(r.stderr).toContain(`api: ${prefix}api.service\n`);
    expect(r.stderr).toContain("  changed: restart_delay: systemd waits a fixed RestartSec=100ms between restarts");
    expect(r.stderr).toContain(`✓ units/${prefix}api.service created`);
  });

  test("the wait-until-healthy step of a unit waits for the real service, and ends once it answers", async () => {
    const { project, env, dbPort } = exampleProject();
    const r = await sv(project.root, ["export", "systemd", "db"], { env });
    expect(r.code).toBe(0);
    const line = r.stdout.split("\n").find((l) => l.startsWith("ExecStartPost="))!;
    const argv = execWords(line.slice("ExecStartPost=".length));
    expect(argv.slice(0, 2)).toEqual(["/bin/bash", "-c"]);
    const wait = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
    await Bun.sleep(1_500);
    expect(wait.exitCode).toBeNull(); // nothing listens yet: still waiting
    const server = Bun.listen({ hostname: "127.0.0.1", port: dbPort, socket: { data() {} } });
    try {
      const code = await Promise.race([wait.exited, Bun.sleep(5_000).then(() => "timeout")]);
      expect(code).toBe(0);
    } finally {
      server.stop(true);
      wait.kill();
    }
    // and the http step of the api: 503 keeps it waiting, 200 ends it
    const { project: p2, env: env2, apiPort } = exampleProject();
    const r2 = await sv(p2.root, ["export", "systemd", "api"], { env: env2 });
    const apiLine = r2.stdout.split("\n").filter((l) => l.startsWith("ExecStartPost="))[1]!;
    let status = 503;
    const http = Bun.serve({ hostname: "127.0.0.1", port: apiPort, fetch: (req) => new Response("x", { status: new URL(req.url).pathname === "/health" ? status : 404 }) });
    const w2 = Bun.spawn(execWords(apiLine.slice("ExecStartPost=".length)), { stdout: "ignore", stderr: "ignore" });
    try {
      await Bun.sleep(1_500);
      expect(w2.exitCode).toBeNull();
      status = 200;
      expect(await Promise.race([w2.exited, Bun.sleep(5_000).then(() => "timeout")])).toBe(0);
    } finally {
      http.stop(true);
      w2.kill();
    }
  }, 30_000);

  test("instances, on-demand, multi-shot, hooks, limits, on_failure, a container and a remote service: verified, and each unmapped key said", async () => {
    const port = freePort();
    const p = tempProject({
      "sv.yml": `name: big\nhosts:\n  web1: { address: 10.0.0.11 }\n`,
      "services/web.yml": `command: ["/bin/sleep", "1000"]\ninstances: 3\nport: ${port}\nlimits: { memory: 64M, nofile: 1024, nproc: 100 }\nstop_signal: SIGINT\nrestart: always\nmax_restarts: 0\nhooks: { pre_start: "echo pre", post_stop: ["/bin/true"] }\non_failure:\n  - command: ["/bin/echo", "web failed"]\n  - webhook: http://127.0.0.1:9/alert\nafter: [tool]\n`,
      "services/tool.yml": "type: on-demand\ncommand: sleep 100\n",
      "services/job.yml": "type: multi-shot\ncommand: [echo, run]\n",
      "services/box.yml": `image: localhost/svbox:1\ncommand: [httpd, -f, -p, "80"]\nports: ["127.0.0.1:${freePort()}:80"]\nvolumes: ["data:/data"]\ndepends_on: { web: { condition: started } }\n`,
      "services/far.yml": "host: web1\ncommand: sleep 100\n",
      "services/near.yml": "command: sleep 100\ndepends_on: [far]\nlog: { max_size: 1M, keep: 2 }\n",
    });
    const out = join(p.root, "units");
    const r = await sv(p.root, ["export", "systemd", "--out", out, "--json"]);
    expect(r.code).toBe(0);
    const files = readdirSync(out, { recursive: true }).map(String).sort();
    expect(files).toEqual(
      [
        "big-box.service",
        "big-job@.service",
        "big-near.service",
        "big-tool.service",
        "big-web-on-failure.service",
        "big-web.target",
        "big-web@.service",
        "big-web@0.service.d",
        "big-web@0.service.d/port.conf",
        "big-web@1.service.d",
        "big-web@1.service.d/port.conf",
        "big-web@2.service.d",
        "big-web@2.service.d/port.conf",
        "big.target",
      ].sort(),
    );
    expect(await verify(out)).toEqual({ code: 0, out: "" });
    const web = readFileSync(join(out, "big-web@.service"), "utf8");
    expect(web).toContain("Environment=\"SV_INSTANCE=%i\"");
    expect(web).not.toContain("PORT=");
    expect(web).toContain("KillSignal=SIGINT\nLimitNOFILE=1024\nLimitNPROC=100\nMemoryMax=67108864\n");
    expect(web).toContain("ExecStartPre=/bin/sh -c \"echo pre\"\n");
    expect(web).toContain("ExecStopPost=/bin/true\n");
    expect(web).toContain("OnFailure=big-web-on-failure.service\n");
    expect(web).toContain("After=big-tool.service\n");
    expect(web).toContain("StartLimitIntervalSec=0\n");
    expect(readFileSync(join(out, "big-web@2.service.d/port.conf"), "utf8")).toBe(`[Service]\nEnvironment="PORT=${port + 2}"\n`);
    expect(readFileSync(join(out, "big-web.target"), "utf8")).toContain("Wants=big-web@0.service big-web@1.service big-web@2.service\n");
    const box = readFileSync(join(out, "big-box.service"), "utf8");
    expect(box).toMatch(/^ExecStart=\S*(docker|podman) run --rm --name big-box /m);
    expect(box).toContain("-v big_data:/data");
    expect(box).toContain("Requires=big-web.target\n");
    const target = readFileSync(join(out, "big.target"), "utf8");
    expect(target).toContain("Wants=big-web.target big-box.service big-near.service\n");

    const report = JSON.parse(r.stdout) as { target: string; files: { path: string; state: string }[]; services: { name: string; exported: boolean; as: string[]; unmapped: { key: string; message: string }[]; changed: { key: string; message: string }[] }[] };
    expect(report.target).toBe("systemd");
    const of = (n: string) => report.services.find((s) => s.name === n)!;
    expect(of("far").exported).toBe(false);
    expect(of("far").unmapped).toEqual([{ key: "host", message: "runs on host web1 over ssh: a unit for it belongs on that machine (export from a project where it is local)" }]);
    expect(of("near").unmapped).toContainEqual({ key: "depends_on.far", message: "far is not exported (it runs on host web1): nothing orders this unit after it" });
    expect(of("near").unmapped).toContainEqual({ key: "log", message: "the journal keeps the output; its own limits apply (SystemMaxUse= in journald.conf)" });
    expect(of("web").unmapped).toContainEqual({ key: "on_failure.1", message: "webhook http://127.0.0.1:9/alert: systemd has no HTTP action (OnFailure= starts a unit: make one that posts it)" });
    expect(of("tool").changed).toContainEqual({ key: "type", message: "on-demand: left out of the project target; started when named, or by a unit that requires it" });
    expect(of("job").changed).toContainEqual({ key: "type", message: "multi-shot: a template unit; each `systemctl start big-job@ID.service` is one run" });
    expect(report.files.every((f) => f.state === "created")).toBe(true);
  });

  test("--out refuses to overwrite what differs (nothing is written) unless --force; an identical file is left alone", async () => {
    const { project, env } = exampleProject();
    const out = join(project.root, "units");
    expect((await sv(project.root, ["export", "systemd", "--out", out], { env })).code).toBe(0);
    const api = readdirSync(out).find((f) => f.endsWith("-api.service"))!;
    writeFileSync(join(out, api), "# mine\n");
    const again = await sv(project.root, ["export", "systemd", "--out", out], { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`✘ 1 file exists with other content (units/${api}): nothing was written\n  hint: rerun with --force to overwrite them, or export into another directory`);
    expect(readFileSync(join(out, api), "utf8")).toBe("# mine\n");
    const forced = await sv(project.root, ["export", "systemd", "--out", out, "--force"], { env });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain(`✓ units/${api} overwritten`);
    expect(forced.stderr).toMatch(/= units\/\S+-db\.service unchanged/);
    expect(readdirSync(out).some((f) => f.includes(".tmp"))).toBe(false);
  });

  test("bad input: one line with a hint, exit 2", async () => {
    const { project, env } = exampleProject();
    const cases: [string[], string][] = [
      [["export"], "✘ sv export needs a target: systemd, compose or kubernetes\n  hint: e.g. sv export systemd --out ./units\n"],
      [["export", "systemdd"], '✘ unknown export target "systemdd"\n  hint: did you mean "systemd"?\n'],
      [["export", "systemd", "apii"], '✘ unknown service "apii"\n  hint: did you mean "api"?\n'],
      [["export", "systemd", "--image", "x:1"], "✘ --image is for compose and kubernetes\n  hint: systemd runs process services directly\n"],
      [["export", "kubernetes", "--image", "bad image"], '✘ --image "bad image" is not an image reference\n  hint: e.g. --image docker.io/library/debian:12\n'],
      [["export", "compose", "--wait-image", "busybox"], "✘ --wait-image is an option of sv export kubernetes\n  hint: its initContainers wait for dependencies\n"],
      [["export", "compose"], "✘ no service can be exported to compose: db: a process service needs an image to run in (and 3 more)\n  hint: pass --image IMG, the base image process services run in, e.g. sv export compose --image docker.io/library/debian:12\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = await sv(project.root, args, { env });
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr });
    }
    writeFileSync(join(project.root, "afile"), "");
    const r = await sv(project.root, ["export", "systemd", "--out", "afile"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("✘ --out afile is not a directory\n  hint: name a directory (it is created when missing)\n");
    expect(existsSync(join(project.root, "units"))).toBe(false);
  });
});
