// sv import compose on a realistic docker-compose.yml: every service a container, conditions and oneshots, ports,
// volumes and env files rewritten against the new root, what did not map listed at its line; the result validates.
import { expect, test } from "bun:test";
import { sv } from "../helpers/project.ts";
import { projectWith, service, serviceFiles, unmappedLines } from "./support.ts";

test("a compose file becomes container services that pass sv validate", async () => {
  const p = projectWith("compose");
  const r = await sv(p.root, ["import", "compose", "src/docker-compose.yml"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    ["✓ services/db.yml created", "✓ services/migrate.yml created", "✓ services/api.yml created", "✓ services/worker.yml created", "✓ services/cache.yml created", "5 services from src/docker-compose.yml; 16 keys not mapped (listed on stderr and in each file's header)", ""].join("\n"),
  );
  expect(Object.keys(serviceFiles(p.root))).toEqual(["api", "cache", "db", "migrate", "worker"]);

  expect(service(p.root, "db")).toEqual({
    image: "postgres:16-alpine",
    env: { LOG_LEVEL: "${LOG_LEVEL:-info}", TZ: "UTC", POSTGRES_USER: "shop", POSTGRES_PASSWORD: "${POSTGRES_PASSWORD:-example}", POSTGRES_DB: "shop" },
    volumes: ["db-data:/var/lib/postgresql/data", "./src/initdb:/docker-entrypoint-initdb.d:ro"],
    health_check: { type: "command", command: "pg_isready -U shop -d shop", interval: "5s", timeout: "3s", retries: 5, start_period: "10s" },
    restart: "always",
    stop_timeout: "90s",
  });
  // Waited for with service_completed_successfully: it runs to completion.
  expect(service(p.root, "migrate")).toEqual({
    type: "oneshot",
    image: "ghcr.io/example/shop-api:1.4",
    command: ["./manage.py", "migrate", "--noinput"],
    env_file: "./src/api/.env",
    depends_on: { db: { condition: "healthy" } },
    restart: "no",
  });
  expect(service(p.root, "api")).toEqual({
    image: "ghcr.io/example/shop-api:1.4",
    // compose splits a string command into words and runs no shell: so does the import
    command: ["gunicorn", "shop.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--log-level", "${LOG_LEVEL:-info}"],
    cwd: "/srv/api",
    env: { DATABASE_URL: "postgres://shop:${POSTGRES_PASSWORD:-example}@db:5432/shop", WORKERS: "2", SENTRY_DSN: "${SENTRY_DSN-}" },
    env_file: "./src/api/.env",
    user: "1000",
    group: "1000",
    ports: ["127.0.0.1:8000:8000", "127.0.0.1:9100:9100"],
    depends_on: { db: { condition: "healthy" }, migrate: { condition: "completed" }, cache: { condition: "started" } },
    health_check: { type: "command", command: "wget -q -O /dev/null http://127.0.0.1:8000/health || exit 1", interval: "10s", timeout: "2s", retries: 3 },
    restart: "on-failure",
    restart_delay: "5s",
    restart_max_delay: "5s",
    max_restarts: 3,
    stop_signal: "SIGINT",
    limits: { memory: "512M", nofile: 4096 },
  });
  // build: only -> the image `docker compose build` tags; profiles -> on-demand; scale -> instances.
  expect(service(p.root, "worker")).toEqual({
    type: "on-demand",
    image: "shop-worker",
    command: ["celery", "-A", "shop", "worker", "--loglevel=INFO"],
    env: { CELERY_BROKER_URL: "redis://cache:6379/0", CONCURRENCY: 4 },
    instances: 2,
    pull: "never",
    depends_on: ["db", "cache"],
    restart: "on-failure",
    max_restarts: 5,
  });
  expect(service(p.root, "cache")).toEqual({
    image: "redis:7-alpine",
    command: ["redis-server", "--save", "", "--appendonly", "no"],
    health_check: { type: "command", command: ["redis-cli", "ping"], interval: "2s" },
    restart: "always",
    limits: { memory: "256M" },
  });

  expect(unmappedLines(r.stderr)).toEqual([
    "src/docker-compose.yml:2: name: the project name is sv.yml's name: (set it there if you want it)",
    "src/docker-compose.yml:32: services.db.logging: sv keeps each service's output in .sv/log/NAME.log (sv logs NAME)",
    "src/docker-compose.yml:44: services.api.build: sv does not build images: build it first (docker compose build api); sv runs ghcr.io/example/shop-api:1.4",
    "src/docker-compose.yml:52: services.api.env_file[1]: ./api/.env.local does not exist and is optional (required: false): left out (sv requires every env_file to exist)",
    "src/docker-compose.yml:67: services.api.depends_on.db.restart: sv does not restart api when db restarts",
    "src/docker-compose.yml:77: services.api.healthcheck.start_interval: sv probes at one interval",
    "src/docker-compose.yml:82: services.api.deploy.resources.limits.cpus: sv limits memory and open files, not CPU or pids",
    "src/docker-compose.yml:87: services.api.deploy.restart_policy.window: sv counts consecutive failures, and resets the count when the service stays up a while",
    "src/docker-compose.yml:93: services.api.ulimits.nofile.hard: sv sets one limit (soft = hard): the soft one",
    "src/docker-compose.yml:94: services.api.labels: sv labels its containers itself; other labels are not supported",
    "src/docker-compose.yml:96: services.api.networks: sv puts every container on one project network, where it is reachable by its service name",
    "src/docker-compose.yml:99: services.worker.build: sv does not build images: run `docker compose build worker` first; sv runs the image it tags, shop-worker (pull: never)",
    "src/docker-compose.yml:107: services.worker.profiles: sv has no profiles: the service is on-demand (started when named, or when a service that depends on it starts)",
    "src/docker-compose.yml:112: services.cache.expose: not needed: containers on the project network reach each other's ports",
    "src/docker-compose.yml:116: services.cache.container_name: sv names containers <project>-<unit>",
    "src/docker-compose.yml:123: networks: sv puts every container of a project on one project network, where they reach each other by service name",
  ]);
  // Each file says where it came from and what of it did not map.
  expect(p.read("services/cache.yml").split("\n").slice(0, 5)).toEqual([
    "# Imported by `sv import compose` from src/docker-compose.yml (services.cache, line 109).",
    "# Not mapped:",
    "#   line 112: services.cache.expose: not needed: containers on the project network reach each other's ports",
    "#   line 116: services.cache.container_name: sv names containers <project>-<unit>",
    "",
  ]);

  const v = await sv(p.root, ["validate"]);
  expect(v.stderr).toBe("");
  expect(v.code).toBe(0);
  const list = JSON.parse((await sv(p.root, ["list", "--json"])).stdout).services;
  expect(list.map((s: { name: string; image: string; port: number | null }) => [s.name, s.image, s.port])).toEqual([
    ["api", "ghcr.io/example/shop-api:1.4", 8000],
    ["cache", "redis:7-alpine", null],
    ["db", "postgres:16-alpine", null],
    ["migrate", "ghcr.io/example/shop-api:1.4", null],
    ["worker", "shop-worker", null],
  ]);
});

test("compose's variations: long-syntax volumes, list env, restart forms, CMD tests, names sv must change", async () => {
  const p = projectWith("compose");
  p.write(
    "src/variants.yml",
    [
      "services:",
      "  Web.App:",
      "    image: nginx:1.27",
      "    volumes:",
      "      - type: bind",
      "        source: ./site",
      "        target: /usr/share/nginx/html",
      "        read_only: true",
      "      - type: tmpfs",
      "        target: /tmp",
      "      - /var/cache/nginx",
      "    environment: [\"A=1\", \"B=${B:?B must be set}\", \"C=$$literal\"]",
      "    restart: on-failure:4",
      "    ports: [\"8080-8081:80-81\", 8443]",
      "    healthcheck: { test: [\"NONE\"] }",
      "  job:",
      "    image: busybox",
      "    entrypoint: /bin/sh -c",
      "    command: [\"echo done\"]",
      "    depends_on:",
      "      Web.App: { condition: service_started, required: false }",
      "      ghost: { condition: service_started }",
      "    network_mode: host",
      "    healthcheck: { disable: true }",
      "",
    ].join("\n"),
  );
  p.write("src/site/index.html", "hi\n");
  p.write("src/.env", "B=2\n");
  const r = await sv(p.root, ["import", "compose", "src/variants.yml"]);
  expect(r.code).toBe(0);
  expect(service(p.root, "web-app")).toEqual({
    image: "nginx:1.27",
    env: { A: "1", B: "${B}", C: "$$literal" },
    ports: ["8443"],
    volumes: ["./src/site:/usr/share/nginx/html:ro"],
    health_check: { type: "process" },
    restart: "on-failure",
    max_restarts: 4,
  });
  expect(service(p.root, "job")).toEqual({
    image: "busybox",
    entrypoint: ["/bin/sh", "-c"],
    command: ["echo done"],
    network_mode: "host",
    after: ["web-app"],
    health_check: { type: "process" },
    restart: "no",
  });
  expect(unmappedLines(r.stderr)).toEqual([
    'src/variants.yml:2: services.Web.App: "Web.App" is not an sv name ([a-z0-9][a-z0-9_-]{0,62}); named "web-app"',
    "src/variants.yml:9: services.Web.App.volumes[1]: a tmpfs mount is not supported",
    "src/variants.yml:11: services.Web.App.volumes[2]: \"/var/cache/nginx\": an anonymous volume is not supported: name it (NAME:/var/cache/nginx)",
    'src/variants.yml:14: services.Web.App.ports[0]: "8080-8081:80-81": sv does not publish port ranges; list each port',
    "src/variants.yml:21: services.job.depends_on.Web.App.required: an optional dependency: after: web-app (ordering only, never pulled in)",
    'src/variants.yml:22: services.job.depends_on.ghost: "ghost" is not a service of this file: left out',
    "src/.env:1: .env: compose reads it for the file's ${VAR}s; sv takes them from its environment (export them before sv up, or write the values in)",
  ]);
  // compose required B (${B:?...}); sv requires every ${VAR} without a default to be set, so it is the same rule.
  const unset = await sv(p.root, ["validate"], { env: { B: undefined as unknown as string } });
  expect([unset.code, unset.stderr.split("\n")[0]]).toEqual([2, "services/web-app.yml:11:6: env.B: ${B} is not set"]);
  expect((await sv(p.root, ["validate"], { env: { B: "2" } })).code).toBe(0);
});
