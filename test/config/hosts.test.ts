// Bad `hosts:`, `networks:` and `host:` input, through the compiled sv (`sv validate`, `sv up`): each mistake is
// one located line naming the host or service with what to do, exit 2, no stack; nothing is started or made.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunResult, sv, tempProject } from "../helpers/project.ts";

const HOSTS = { web1: { address: "10.0.0.11", user: "deploy" }, db1: { address: "10.0.0.12" } };

/** sv.yml (a mapping, written as JSON) and services/NAME.yml files. */
function project(settings: Record<string, unknown>, services: Record<string, Record<string, unknown>>, extra: Record<string, string> = {}) {
  const files: Record<string, string> = { "sv.yml": `${JSON.stringify({ name: "cfg", ...settings }, null, 2)}\n`, ...extra };
  for (const [name, def] of Object.entries(services)) files[`services/${name}.yml`] = `${JSON.stringify(def, null, 2)}\n`;
  return tempProject(files);
}

/** Located problem lines (`file:line:col: ...`) of a run's stderr. */
const problemLines = (r: RunResult) => r.stderr.split("\n").filter((l) => /^\S+:\d+:\d+: /.test(l));

/** A config error as a user sees it: exit 2, nothing on stdout, no stack, no internal error. */
function expectConfigError(r: RunResult): string[] {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).not.toContain("    at ");
  expect(r.stderr).not.toMatch(/\b(error|Error):/);
  expect(r.stderr).not.toContain("internal error");
  return problemLines(r);
}

/** `sv validate` of the project: exactly one problem, which is returned. */
async function oneProblem(settings: Record<string, unknown>, services: Record<string, Record<string, unknown>>, extra: Record<string, string> = {}): Promise<string> {
  const p = project(settings, services, extra);
  const r = await sv(p.root, ["validate"]);
  const lines = expectConfigError(r);
  expect(lines).toHaveLength(1);
  expect(r.stderr).toContain("the configuration has a problem");
  return lines[0]!;
}

async function valid(settings: Record<string, unknown>, services: Record<string, Record<string, unknown>>): Promise<void> {
  const p = project(settings, services);
  const r = await sv(p.root, ["validate"]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toContain("no problems");
  expect(r.code).toBe(0);
}

/** A package tarball (manifest.yaml only) in a fresh dir; its path. */
function tarball(): string {
  const dir = mkdtempSync(join(tmpdir(), "sv-cfg-pkg-"));
  writeFileSync(join(dir, "manifest.yaml"), 'name: app\nversion: "1.0.0"\ncommand: exec sleep 1000\n');
  const out = join(dir, "app.tar.gz");
  const r = Bun.spawnSync(["tar", "-czf", out, "-C", dir, "manifest.yaml"], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar: ${r.stderr}`);
  return out;
}

describe("host: of a service", () => {
  test("an unknown host close to a declared one: did you mean", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { api: { host: "web", command: "sleep 1" } });
    expect(line).toBe('services/api.yml:2:11: host: unknown host "web" (did you mean "web1"?)');
  });

  test("an unknown host far from every declared one: the declared hosts are listed", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { api: { host: "zzzzq", command: "sleep 1" } });
    expect(line).toContain('host: unknown host "zzzzq" (hosts are web1, db1)');
  });

  test("host: with no hosts: declared at all says where to declare it", async () => {
    const line = await oneProblem({}, { api: { host: "web1", command: "sleep 1" } });
    expect(line).toMatch(/^services\/api\.yml:\d+:\d+: host: unknown host "web1" \(declare it in .*sv\.yml's hosts:\)$/);
  });

  test("host: local is refused with how to run it here", async () => {
    const line = await oneProblem({ hosts: { ...HOSTS, local: { address: "10.0.0.1" } } }, { api: { host: "local", command: "sleep 1" } });
    expect(line).toContain('host: "local" is this machine as the hosts reach it: leave host: out to run api here');
  });

  test("a host: that is not a host name", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { api: { host: "Web 1", command: "sleep 1" } });
    expect(line).toContain("host: must be the name of a host in sv.yml's hosts:");
  });

  test("sv up of a config error exits 2 and starts nothing", async () => {
    const p = project({ hosts: HOSTS }, { api: { host: "web", command: "sleep 1" }, here: { command: "exec sleep 1000" } });
    const r = await sv(p.root, ["up"]);
    const lines = expectConfigError(r);
    expect(lines).toEqual(['services/api.yml:2:11: host: unknown host "web" (did you mean "web1"?)']);
    expect(existsSync(join(p.root, ".sv/state/services.yml"))).toBe(false);
  });
});

describe("package keys", () => {
  for (const [key, value] of [["install_path", "/opt/api"], ["keep_releases", 2], ["pre_install", "true"], ["post_install", "true"]] as const) {
    test(`${key} without package: (on a host)`, async () => {
      const line = await oneProblem({ hosts: HOSTS }, { api: { host: "web1", command: "sleep 1", [key]: value } });
      expect(line).toMatch(new RegExp(`^services/api\\.yml:\\d+:\\d+: ${key}: only a package service has ${key}: \\(add package:, or remove it\\)$`));
    });
  }

  test("package keys without package: or host: are each reported", async () => {
    const p = project({}, { api: { command: "sleep 1", install_path: "/opt/api", keep_releases: 2, pre_install: "true", post_install: "true" } });
    const lines = expectConfigError(await sv(p.root, ["validate"]));
    expect(lines.map((l) => l.split(": ")[1])).toEqual(["install_path", "keep_releases", "pre_install", "post_install"]);
  });

  test("package: without host:", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { api: { package: tarball() } });
    expect(line).toMatch(/^services\/api\.yml:\d+:\d+: package: a package is deployed to a host: add host: \(one of sv\.yml's hosts:\)$/);
  });

  test("package: with host: is fine", async () => {
    await valid({ hosts: HOSTS }, { api: { host: "web1", package: tarball() } });
  });

  test("install_path must be absolute", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { api: { host: "web1", package: tarball(), install_path: "opt/api" } });
    expect(line).toContain("install_path: must be an absolute path on the host");
  });

  test("image: with host:", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { api: { host: "web1", image: "alpine:3" } });
    expect(line).toMatch(/^services\/api\.yml:\d+:\d+: image: a container runs on this machine's engine: remove host:, or run the image's command as a process there$/);
  });
});

describe("hosts: entries", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["a missing address", { user: "deploy" }, /^sv\.yml:\d+:\d+: hosts\.web1\.address: is required$/],
    ["a port out of range", { address: "10.0.0.11", port: 70000 }, /^sv\.yml:\d+:\d+: hosts\.web1\.port: must be a port number \(1-65535\)$/],
    ["a port that is not a number", { address: "10.0.0.11", port: "ssh" }, /^sv\.yml:\d+:\d+: hosts\.web1\.port: must be a port number \(1-65535\)$/],
    ["an unknown key close to a known one", { address: "10.0.0.11", prot: 2222 }, /^sv\.yml:\d+:\d+: hosts\.web1\.prot: unknown key "prot" \(did you mean "port"\?\)$/],
    ["a bad connect_timeout", { address: "10.0.0.11", connect_timeout: "soon" }, /^sv\.yml:\d+:\d+: hosts\.web1\.connect_timeout: must be a duration like "250ms".*$/],
    ["an address that is not one", { address: "not an address!" }, /^sv\.yml:\d+:\d+: hosts\.web1\.address: must be an IP address or a host name$/],
  ];
  for (const [what, entry, expected] of bad) {
    test(`${what}: one line at the key, nothing about the services on it`, async () => {
      // web1 is broken, db1 fine: the services on either are not also "unknown hosts".
      const line = await oneProblem({ hosts: { web1: entry, db1: HOSTS.db1 } }, { api: { host: "web1", command: "sleep 1" }, db: { host: "db1", command: "sleep 1" } });
      expect(line).toMatch(expected);
    });
  }

  test("a bad entry elsewhere in sv.yml does not make the declared hosts unknown", async () => {
    const line = await oneProblem({ max_parallel: "lots", hosts: HOSTS }, { api: { host: "web1", command: "sleep 1" } });
    expect(line).toMatch(/^sv\.yml:\d+:\d+: max_parallel: /);
  });

  test("a service on a broken host still gets its other unknown-host typos reported", async () => {
    const p = project({ hosts: { web1: { user: "deploy" }, db1: HOSTS.db1 } }, { api: { host: "web1", command: "sleep 1" }, db: { host: "db", command: "sleep 1" } });
    const lines = expectConfigError(await sv(p.root, ["validate"]));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/hosts\.web1\.address: is required$/);
    expect(lines[1]).toMatch(/^services\/db\.yml:\d+:\d+: host: unknown host "db" \(did you mean "db1"\?\)$/);
  });

  test("a host name that is not one", async () => {
    const line = await oneProblem({ hosts: { "Web 1": { address: "10.0.0.11" } } }, {});
    expect(line).toContain("host names match [a-z0-9][a-z0-9_-]{0,62}");
  });
});

describe("networks:", () => {
  for (const subnet of ["10.0.0.0/33", "10.0.0.256/24", "10.0.0.0", "lan"]) {
    test(`a bad subnet ${subnet}`, async () => {
      const line = await oneProblem({ hosts: HOSTS, networks: { lan: { subnet } } }, { api: { host: "web1", command: "sleep 1" } });
      expect(line).toMatch(/^sv\.yml:\d+:\d+: networks\.lan\.subnet: must be an IPv4 subnet like 10\.0\.0\.0\/24$/);
    });
  }

  test("a bad subnet does not also make hosts on other networks unreachable", async () => {
    const line = await oneProblem(
      { hosts: { web1: { address: "10.0.0.11" }, db1: { address: "10.0.0.12" } }, networks: { lan: { subnet: "10.0.0.0/24" }, back: { subnet: "nope" } } },
      { db: { host: "db1", command: "sleep 1", port: 5432 }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } },
    );
    expect(line).toMatch(/networks\.back\.subnet: must be an IPv4 subnet/);
  });
});

describe("reaching a dependency", () => {
  const disjoint = {
    hosts: { web1: { address: "10.0.0.11", addresses: ["10.1.0.11"] }, db1: { address: "10.2.0.12" } },
    networks: { lan: { subnet: "10.0.0.0/24" }, back: { subnet: "10.2.0.0/24" } },
  };

  test("hosts on disjoint networks: the dependent's error names both hosts", async () => {
    const line = await oneProblem(disjoint, { db: { host: "db1", command: "sleep 1", port: 5432 }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } });
    expect(line).toMatch(/^services\/api\.yml:\d+:\d+: depends_on: hosts web1 and db1 share none of the networks:, so api on web1 cannot reach db on db1 \(give one of them an address on a network the other is on\)$/);
  });

  test("a shared network makes it fine", async () => {
    const shared = { ...disjoint, hosts: { ...disjoint.hosts, db1: { address: "10.2.0.12", addresses: ["10.1.0.12"] } }, networks: { ...disjoint.networks, mid: { subnet: "10.1.0.0/24" } } };
    await valid(shared, { db: { host: "db1", command: "sleep 1", port: 5432 }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } });
  });

  test("a dependency without a port needs no address: fine on disjoint networks", async () => {
    await valid(disjoint, { db: { host: "db1", command: "sleep 1" }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } });
  });

  test("a remote service on a local one with a port and no hosts: local: the hint says how", async () => {
    const line = await oneProblem({ hosts: HOSTS }, { db: { command: "sleep 1", port: 5432 }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } });
    expect(line).toMatch(/^services\/api\.yml:\d+:\d+: depends_on: api runs on web1 and depends on db, which runs on this machine: say how web1 reaches it with hosts: \{ local: \{ address: \.\.\. \} \} in sv\.yml$/);
  });

  test("the same with local: { address } is fine", async () => {
    await valid({ hosts: { ...HOSTS, local: { address: "10.0.0.1" } } }, { db: { command: "sleep 1", port: 5432 }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } });
  });

  test("local: on no network the host is on", async () => {
    const line = await oneProblem(
      { hosts: { web1: { address: "10.0.0.11" }, local: { address: "10.9.0.1" } }, networks: { lan: { subnet: "10.0.0.0/24" } } },
      { db: { command: "sleep 1", port: 5432 }, api: { host: "web1", command: "sleep 1", depends_on: ["db"] } },
    );
    expect(line).toContain("depends_on: web1 and this machine (local) share none of the networks:, so api cannot reach db");
  });

  test("a local service depending on a remote one needs nothing more", async () => {
    await valid({ hosts: HOSTS }, { db: { host: "db1", command: "sleep 1", port: 5432 }, api: { command: "sleep 1", depends_on: ["db"] } });
  });
});
