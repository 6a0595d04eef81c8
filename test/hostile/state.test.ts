// A state dir that cannot be written — a real tmpfs filled to ENOSPC, a real read-only bind mount — is one
// clear line and exit 1 for up, down and restart: no internal error, and never a process the store
// does not know (a start that could not be recorded is undone behind its gate).
import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sv, tempProject, waitFor } from "../helpers/project.ts";

const mounts: string[] = [];
const markers: string[] = [];
afterEach(() => {
  // Before the unmount takes the store (and so the harness's record of them) away.
  for (const m of markers.splice(0)) for (const pid of running(m)) process.kill(pid, "SIGKILL");
  for (const m of mounts.splice(0).reverse()) Bun.spawnSync(["umount", "-l", m]);
});

function mount(args: string[], target: string): void {
  const r = Bun.spawnSync(["mount", ...args, target]);
  if (r.exitCode !== 0) throw new Error(`mount ${args.join(" ")} ${target}: ${r.stderr.toString()}`);
  mounts.push(target);
}

/** Live processes whose argv is exactly [/bin/sleep, marker]. */
function running(marker: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const argv = readFileSync(`/proc/${e}/cmdline`, "latin1").split("\0");
        const stat = readFileSync(`/proc/${e}/stat`, "latin1");
        return argv[0] === "/bin/sleep" && argv[1] === marker && stat[stat.lastIndexOf(")") + 2] !== "Z";
      } catch {
        return false;
      }
    })
    .map(Number);
}

function marker(): string {
  const m = `4242.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  markers.push(m);
  return m;
}

test("a full disk (a real tmpfs at ENOSPC) is one line and exit 1 for up, down and restart; nothing untracked runs", async () => {
  const p = tempProject();
  const m = marker();
  p.write("services/a.yml", JSON.stringify({ command: ["/bin/sleep", m] }));
  const state = join(p.root, ".sv");
  Bun.spawnSync(["mkdir", "-p", state]);
  mount(["-t", "tmpfs", "-o", "size=256k,mode=755", "tmpfs"], state);
  expect((await sv(p.root, ["up"])).code).toBe(0);
  expect(running(m)).toHaveLength(1);
  // Fill it up to the last block.
  try {
    writeFileSync(join(state, "filler"), Buffer.alloc(1 << 20));
  } catch {}
  const message = "✘ cannot write the state in .sv: the disk is full (ENOSPC)\n  hint: free some space and run the command again; nothing was changed\n";
  const mb = marker();
  p.write("services/b.yml", JSON.stringify({ command: ["/bin/sleep", mb] }));
  for (const op of [["down"], ["restart"], ["up", "b"], ["up", "b"]]) {
    const r = await sv(p.root, op);
    expect({ op, code: r.code, stderr: r.stderr }).toEqual({ op, code: 1, stderr: message });
  }
  // Each failed try left nothing behind: still the one recorded process, and no b.
  await Bun.sleep(50);
  expect(running(m)).toHaveLength(1);
  expect(running(mb)).toHaveLength(0);
});

test("a read-only state dir (a real read-only bind mount) is one line and exit 1; up spawns nothing", async () => {
  const p = tempProject();
  const m = marker();
  p.write("services/a.yml", JSON.stringify({ command: ["/bin/sleep", m] }));
  const state = join(p.root, ".sv");
  Bun.spawnSync(["mkdir", "-p", join(state, "state")]);
  mount(["--bind", state], state);
  Bun.spawnSync(["mount", "-o", "remount,ro,bind", state]);
  const message = "✘ cannot write the state in .sv: the file system is read-only (EROFS)\n  hint: make .sv a writable directory (state_dir: in sv.yml moves it); nothing was changed\n";
  for (const op of [["up"], ["down"]]) {
    const r = await sv(p.root, op);
    expect({ op, code: r.code, stderr: r.stderr }).toEqual({ op, code: 1, stderr: message });
  }
  await waitFor(() => running(m).length === 0, "nothing running");
});
