// What containers see, end to end through dist/sv on podman and dockerd: each other by service name on the
// project network, named volumes kept across down/up (and removed by down --volumes), bind mounts of project
// dirs, and command health checks and hooks run inside the container. Nothing of a project is left after.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../helpers/engines.ts";
import { freePort, sv, unitStatus } from "../helpers/project.ts";
import { HTTPD, TEST_IMAGE, containerProject, expectNothingLeft, idle, leftovers, onEachEngine } from "./support.ts";

/** The network's gateway and the host's UDP listeners on its port 53 (`ss -ulpn`), for a failure's message. */
async function dnsOnGateway(engine: Engine, network: string): Promise<string> {
  const gateway = ((await engine.api("GET", `/networks/${network}`)).IPAM?.Config ?? []).map((c: { Gateway?: string }) => c.Gateway).join(",");
  const listeners = Bun.spawnSync(["ss", "-ulpn"]).stdout.toString().split("\n").filter((l) => gateway && l.includes(`${gateway}:53 `));
  return `gateway ${gateway}; on its port 53: ${listeners.map((l) => l.replace(/\s+/g, " ").trim()).join(" | ") || "nothing"}`;
}

onEachEngine("containers: network, volumes, hooks", (engine) => {
  test("a container reaches its container dependency by service name and container port on the project network", async () => {
    const port = freePort();
    // On a failure, the container also says which resolver it asked and what it answered.
    const probe =
      "env | grep ^DB_ | sort > /out/env; timeout 3 wget -qO- http://$DB_HOST:$DB_PORT/ > /out/got 2> /out/err || " +
      "{ s=$?; { grep nameserver /etc/resolv.conf; nslookup $DB_HOST; } > /out/dns 2>&1; exit $s; }";
    const p = containerProject(engine(), {
      db: { image: TEST_IMAGE, pull: "never", command: HTTPD, ports: [`127.0.0.1:${port}:80`], health_check: { type: "http", url: `http://127.0.0.1:${port}/`, interval: "100ms" } },
      api: { image: TEST_IMAGE, pull: "never", type: "oneshot", command: ["/bin/sh", "-c", probe], volumes: ["./out:/out"], depends_on: { db: { condition: "healthy" } } },
    });
    p.write("out/.keep", "");

    const up = await sv(p.root, ["up"]);
    const read = (f: string) => (existsSync(join(p.root, "out", f)) ? p.read(`out/${f}`) : null);
    // On a failure, what wget said (DNS on the engine's user network) is part of what is compared, with who
    // on the host serves DNS on the network's gateway (podman: an aardvark-dns).
    const dnsServer = up.code === 0 ? null : await dnsOnGateway(engine(), `${p.name}-sv`);
    expect({ ...up, wget: read("err"), dns: read("dns"), dnsServer }).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^✓ db running \(pid \d+\) in \d+ ms\n✓ api completed in \d+ ms\n$/),
      stderr: "",
      wget: "",
      dns: null,
      dnsServer: null,
    });
    expect(read("env")).toBe("DB_ADDR=db:80\nDB_HOST=db\nDB_PORT=80\n");
    expect(read("got")).toBe("hello\n");
    const network = await engine().api("GET", `/networks/${p.name}-sv`);
    expect(network.Labels).toMatchObject({ "dev.sv.project": p.name });

    const down = await sv(p.root, ["down"]);
    expect(down).toMatchObject({ code: 0 });
    expect(down.stdout).toBe("✓ api stopped\n✓ db stopped\n");
    await expectNothingLeft(engine(), p.name);
  });

  test("a named volume keeps its files across down and up and goes with down --volumes; a relative bind mount shows the project dir", async () => {
    const script = "if [ -f /data/f ]; then cp /data/f /shared/readback; fi; echo kept > /data/f; cp /shared/host.txt /shared/seen";
    const p = containerProject(engine(), { store: { image: TEST_IMAGE, pull: "never", type: "oneshot", command: ["/bin/sh", "-c", script], volumes: ["data:/data", "./shared:/shared"] } });
    p.write("shared/host.txt", "from the host\n");
    const volume = `${p.name}_data`;

    const first = await sv(p.root, ["up"]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(p.read("shared/seen")).toBe("from the host\n");
    expect(existsSync(join(p.root, "shared/readback"))).toBe(false);
    const vol = await engine().api("GET", `/volumes/${volume}`);
    expect(vol.Labels).toMatchObject({ "dev.sv.project": p.name });

    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name, [volume]);

    const second = await sv(p.root, ["up"]);
    expect(second).toMatchObject({ code: 0 });
    expect(p.read("shared/readback")).toBe("kept\n");

    const down = await sv(p.root, ["down", "--volumes"]);
    expect(down).toMatchObject({ code: 0 });
    expect(down.stdout).toBe("✓ store stopped\n");
    await expectNothingLeft(engine(), p.name);
    expect((await leftovers(engine(), p.name)).volumes).toEqual([]);
  });

  test("a command health check and a post_start hook run inside the container", async () => {
    const p = containerProject(engine(), {});
    const ready = `/tmp/ready-${p.name}`;
    p.service("web", {
      image: TEST_IMAGE,
      pull: "never",
      // The file the health check looks for exists only inside the container, and only after a while.
      command: idle(`sleep 0.5; echo ok > ${ready}`),
      volumes: ["./hooks:/hooks"],
      health_check: { type: "command", command: ["/bin/test", "-f", ready], interval: "100ms" },
      hooks: { post_start: ["/bin/sh", "-c", `hostname > /hooks/post_start; cat ${ready} >> /hooks/post_start`] },
    });
    p.write("hooks/.keep", "");

    const t0 = performance.now();
    const up = await sv(p.root, ["up"]);
    expect(up).toMatchObject({ code: 0, stderr: "" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(500);
    expect(existsSync(ready)).toBe(false);
    const container = await engine().api("GET", `/containers/${p.name}-web/json`);
    // Run where the container runs: its hostname, and the file only it has (ready before post_start runs).
    expect(p.read("hooks/post_start")).toBe(`${container.Config.Hostname}\nok\n`);
    expect(await unitStatus(p.root, "web")).toMatchObject({ state: "running", health: "healthy" });

    expect(await sv(p.root, ["down"])).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });
});
