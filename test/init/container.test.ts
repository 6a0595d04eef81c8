// `sv init` as a real container's ENTRYPOINT (PID 1), on podman and on dockerd: `docker stop` (the API's stop,
// t=10) ends it cleanly long before the engine's SIGKILL, services stop in reverse dependency order, orphans are
// reaped, an essential service's code is the container's, and it runs read-only, as nobody, with the state on a
// tmpfs and the container's environment passed through.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Engine } from "../helpers/engines.ts";
import { SV, waitFor } from "../helpers/project.ts";
import { onEachEngine } from "../containers/support.ts";
import { buildInitImage, containerLogs } from "./image.ts";
import { nsProcesses } from "./support.ts";

/** The project baked into the image under /app. */
const PROJECT: Record<string, string> = {
  "services/db.yml": JSON.stringify({ command: "trap 'sleep 0.2; echo db bye; exit 0' TERM; echo db up; while :; do sleep 0.1; done" }),
  // Orphans all the while: a child that forks a 50 ms sleep and exits at once, every 50 ms.
  "services/api.yml": JSON.stringify({
    command: "trap 'echo api bye; exit 0' TERM; echo \"greeting=$GREETING user=$(id -u)\"; while :; do sh -c 'sleep 0.05 & exit 0'; sleep 0.05; done",
    depends_on: ["db"],
  }),
  // Only when named (`sv init job`): an essential job that exits with $JOB_EXIT.
  "services/job.yml": JSON.stringify({ type: "on-demand", command: "sleep 0.3; exit ${JOB_EXIT:-3}", essential: true, restart: "no", depends_on: ["db"] }),
};

onEachEngine("sv init as a container's PID 1", (engine) => {
  const tag = `localhost/sv-init-test:${crypto.randomUUID().slice(0, 8)}`;
  const made: string[] = [];
  beforeAll(async () => {
    await buildInitImage(engine(), tag, SV, PROJECT);
  }, 120_000);
  afterAll(async () => {
    for (const id of made) await engine().api("DELETE", `/containers/${id}?force=1`).catch(() => {});
    await engine().api("DELETE", `/images/${encodeURIComponent(tag)}?force=1`).catch(() => {});
  }, 60_000);

  /** Create and start a container of the image; its id and host pid. */
  const run = async (config: Record<string, unknown> = {}, hostConfig: Record<string, unknown> = {}) => {
    const e: Engine = engine();
    const { Id } = await e.api("POST", "/containers/create", { Image: tag, ...config, HostConfig: { NetworkMode: "none", ...hostConfig } });
    made.push(Id);
    await e.api("POST", `/containers/${Id}/start`);
    const pid = await waitFor(async () => (await e.api("GET", `/containers/${Id}/json`)).State.Pid || null, "the container's pid");
    return { id: Id as string, pid: pid as number };
  };
  const logsUntil = async (id: string, re: RegExp, what: string) => {
    let last = { stdout: "", stderr: "" };
    try {
      await waitFor(async () => re.test((last = await containerLogs(engine(), id)).stdout + last.stderr), what, 20_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nstdout:\n${last.stdout}\nstderr:\n${last.stderr}`);
    }
    return last;
  };

  test("docker stop (t=10) ends it cleanly in well under the 10 s, every service stopped in order, no zombie left", async () => {
    const { id, pid } = await run({ Env: ["GREETING=hi"] });
    await logsUntil(id, /^api +\| greeting=hi user=0$/m, "api to be up");
    // sv is the container's PID 1, and its services' orphans come to it and go.
    expect(nsProcesses(pid).find((p) => p.pid === pid)?.comm).toBe("sv");
    await Bun.sleep(1000);
    const lasting: number[] = [];
    for (let i = 0; i < 3; i++) {
      const zombies = nsProcesses(pid).filter((p) => p.state === "Z").map((p) => p.pid);
      await Bun.sleep(200);
      lasting.push(...zombies.filter((z) => nsProcesses(pid).some((p) => p.pid === z && p.state === "Z")));
    }
    expect(lasting).toEqual([]);
    const t0 = performance.now();
    await engine().api("POST", `/containers/${id}/stop?t=10`);
    const took = performance.now() - t0;
    const state = (await engine().api("GET", `/containers/${id}/json`)).State;
    expect({ exit: state.ExitCode, oom: state.OOMKilled }).toEqual({ exit: 0, oom: false });
    expect(took).toBeLessThan(3000);
    const { stdout, stderr } = await containerLogs(engine(), id);
    expect(stdout.indexOf("api | api bye")).toBeGreaterThan(-1);
    expect(stdout.indexOf("api | api bye")).toBeLessThan(stdout.indexOf("db  | db bye"));
    expect(stderr).toMatch(/sv init: exit 0: SIGTERM received; everything stopped \((\d+) orphans? reaped\)/);
    expect(Number(/\((\d+) orphans? reaped\)/.exec(stderr)![1])).toBeGreaterThan(10);
    console.log(`${engine().kind}: docker stop of sv init took ${Math.round(took)} ms`);
  }, 60_000);

  test("an essential service's exit code is the container's (sv init job)", async () => {
    const { id } = await run({ Cmd: ["job"] });
    const { StatusCode } = await engine().api("POST", `/containers/${id}/wait`);
    expect(StatusCode).toBe(3);
    const { stderr } = await containerLogs(engine(), id);
    expect(stderr).toContain("sv init: exit 3: job (essential) exited with code 3");
    const zero = await run({ Cmd: ["job"], Env: ["JOB_EXIT=0"] });
    expect((await engine().api("POST", `/containers/${zero.id}/wait`)).StatusCode).toBe(0);
  }, 60_000);

  test("read-only root, as nobody, state on a tmpfs (SV_STATE_DIR), the container's environment passed through", async () => {
    const { id } = await run({ User: "65534:65534", Env: ["SV_STATE_DIR=/run/sv", "GREETING=read-only"] }, { ReadonlyRootfs: true, Tmpfs: { "/run": "rw,mode=1777" } });
    await logsUntil(id, /^api +\| greeting=read-only user=65534$/m, "api to be up as nobody");
    await engine().api("POST", `/containers/${id}/stop?t=10`);
    const state = (await engine().api("GET", `/containers/${id}/json`)).State;
    expect(state.ExitCode).toBe(0);
  }, 60_000);
});
