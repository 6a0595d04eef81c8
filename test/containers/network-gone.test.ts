// A long-lived sv (watch) remembers that it made the project network; if something removes it meanwhile
// (a `sv down` elsewhere, `docker network rm`), its next start makes it again instead of failing.
import { expect, test } from "bun:test";
import type { StartRequest } from "../../src/backends/backend.ts";
import { createContainerBackend } from "../../src/backends/container/index.ts";
import { loadProject } from "../../src/config/load.ts";
import { projectPaths } from "../../src/paths.ts";
import { HTTPD, containerProject, expectNothingLeft, onEachEngine } from "./support.ts";

onEachEngine("containers: the project network", (engine) => {
  test("removed behind a long-lived sv's back, it is made again by the next start", async () => {
    const p = containerProject(engine(), { web: { image: "localhost/svbox:1", command: HTTPD, pull: "never" } });
    const project = await loadProject(p.root, {});
    const backend = createContainerBackend(projectPaths(p.root, project.stateDir), project);
    const svc = project.services.get("web")!;
    const request = (unit: string): StartRequest => ({ unit, svc, instance: 0, env: {}, inherited: {}, spec: { hash: "h", type: "simple", backend: "container", stop_signal: "SIGTERM", stop_timeout_ms: 1000, port: null } });
    const first = await backend.start(request("web"));
    await first.release();
    await backend.stop("web", first.handle, { signal: "SIGTERM", timeoutMs: 2000 });
    await backend.reap("web", first.handle);
    await engine().api("DELETE", `/networks/${p.name}-sv`);
    const second = await backend.start(request("web"));
    await second.release();
    expect((await backend.inspect("web", second.handle)).alive).toBe(true);
    await backend.stop("web", second.handle, { signal: "SIGTERM", timeoutMs: 2000 });
    await backend.reap("web", second.handle);
    await backend.teardown!({ volumes: true });
    await expectNothingLeft(engine(), p.name);
  }, 60_000);
});
