// One real run of an imported compose file on a real engine (podman's Docker API, test/helpers/engines.ts): a one-time
// container gates a web container whose compose healthcheck runs inside it; `sv up` waits for healthy, the published
// port answers, `sv down` leaves nothing of the project in the engine.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Engine, startEngine } from "../helpers/engines.ts";
import { freePort, status, sv, tempProject } from "../helpers/project.ts";
import { TEST_IMAGE, expectNothingLeft, fetchText } from "../containers/support.ts";
import { service } from "./support.ts";

let engine: Engine | undefined;
beforeAll(async () => {
  engine = await startEngine("podman");
}, 120_000);
afterAll(async () => {
  await engine?.stop();
}, 120_000);

test("an imported compose project runs on a real engine: a oneshot gate, a healthcheck inside the container, a published port", async () => {
  const port = freePort();
  const name = `imp-${crypto.randomUUID().slice(0, 8)}`;
  const p = tempProject({ "sv.yml": `name: ${name}\ndocker: { host: ${JSON.stringify(engine!.host)} }\n` });
  p.write(
    "compose/docker-compose.yml",
    `services:
  init:
    image: ${TEST_IMAGE}
    pull_policy: never
    command: ["/bin/sh", "-c", "echo initialised"]
  web:
    image: ${TEST_IMAGE}
    pull_policy: never
    command: /bin/sh -c "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
    ports:
      - "127.0.0.1:\${WEB_PORT}:80"
    environment:
      GREETING: hello
    depends_on:
      init:
        condition: service_completed_successfully
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"]
      interval: 1s
      timeout: 2s
      retries: 10
    stop_grace_period: 3s
`,
  );
  const imported = await sv(p.root, ["import", "compose", "compose/docker-compose.yml"]);
  expect([imported.code, imported.stderr]).toEqual([0, ""]);
  expect(service(p.root, "init")).toMatchObject({ type: "oneshot", pull: "never", restart: "no" });
  expect(service(p.root, "web")).toMatchObject({ command: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"], ports: ["127.0.0.1:${WEB_PORT}:80"] });

  const env = { WEB_PORT: String(port) };
  const up = await sv(p.root, ["up"], { env, timeoutMs: 90_000 });
  expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: "" });
  expect(up.stdout).toMatch(/^✓ init completed in \d+ ms\n✓ web running \(pid \d+\) in \d+ ms\n$/);
  expect(await fetchText(`http://127.0.0.1:${port}/`)).toBe("hello\n");
  const web = (await status(p.root)).find((s) => s.name === "web");
  expect([web?.state, web?.health]).toEqual(["running", "healthy"]);
  const down = await sv(p.root, ["down"], { env, timeoutMs: 60_000 });
  expect(down.code).toBe(0);
  await expectNothingLeft(engine!, name);
}, 120_000);
