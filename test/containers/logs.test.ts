// sv logs of containers, end to end through dist/sv on podman and dockerd: the engine keeps a container's
// log; sv tails it, merges it with a process service's log under name prefixes, and follows it.
import { expect, test } from "bun:test";
import { sv, waitFor } from "../helpers/project.ts";
import { TEST_IMAGE, containerProject, expectNothingLeft, onEachEngine, svRunning } from "./support.ts";

onEachEngine("containers: logs", (engine) => {
  test("sv logs tails a container (-n 2), merges it with a process's log, and -f prints what it writes next", async () => {
    // Three lines at once, a fourth when the test creates ctl/more (the bind-mounted dir).
    const script = "trap 'exit 0' TERM; echo one; echo two; echo three; while [ ! -f /ctl/more ]; do sleep 0.05; done; echo four; sleep 1000 & wait";
    const p = containerProject(engine(), {
      web: { image: TEST_IMAGE, pull: "never", command: ["/bin/sh", "-c", script], volumes: ["./ctl:/ctl"] },
      local: { command: ["/bin/sh", "-c", "echo local one; echo local two; exec sleep 1000"] },
    });
    p.write("ctl/.keep", "");
    const up = await sv(p.root, ["up"]);
    expect(up).toMatchObject({ code: 0, stderr: "" });

    const logs = async (args: string[]) => {
      const r = await sv(p.root, ["logs", ...args]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      return r.stdout;
    };
    // The engine may take a moment to have the lines: wait for them, then compare whole outputs.
    await waitFor(async () => (await logs(["web", "-n", "2"])) === "two\nthree\n", "the last two lines of web's log");
    const merged = "local | local one\nlocal | local two\nweb   | one\nweb   | two\nweb   | three\n";
    await waitFor(async () => (await logs([])).includes("local two"), "local's log");
    expect(await logs([])).toBe(merged);
    expect(await logs(["-n", "1"])).toBe("local | local two\nweb   | three\n");

    const follow = svRunning(p.root, ["logs", "-f", "web"]);
    await follow.until("three\n");
    expect(follow.out()).toBe("one\ntwo\nthree\n");
    p.write("ctl/more", "");
    await follow.until("four\n");
    const stopped = await follow.stop("SIGINT");
    expect(stopped.code).toBe(130);
    expect(stopped.stdout).toBe("one\ntwo\nthree\nfour\n");

    const down = await sv(p.root, ["down"]);
    expect(down).toMatchObject({ code: 0 });
    await expectNothingLeft(engine(), p.name);
  });
});
