// Giving back the executable's code pages: a real process keeps working, and its mapped code shrinks.
import { expect, test } from "bun:test";
import { join } from "node:path";

const script = `
import { readFileSync } from "node:fs";
import { releaseCodePages } from ${JSON.stringify(join(import.meta.dir, "../../src/runtime/memory.ts"))};
/** kB of our executable's file pages mapped right now. */
const exeRss = () => {
  const exe = require("node:fs").readlinkSync("/proc/self/exe");
  let kb = 0;
  for (const block of readFileSync("/proc/self/smaps", "utf8").split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    if (block.split("\\n")[0].endsWith(exe)) kb += Number(/^Rss:\\s+(\\d+)/m.exec(block)[1]);
  }
  return kb;
};
const before = exeRss();
const bytes = releaseCodePages();
const after = exeRss();
// Code and data still work afterwards: parse, match, allocate, run a timer, spawn.
const ok = JSON.parse(JSON.stringify({ a: [1, 2, 3] })).a.length === 3 && /b+/.test("abbb");
await Bun.sleep(10);
const child = Bun.spawnSync(["true"]);
console.log(JSON.stringify({ bytes, before, after, ok, child: child.exitCode }));
`;

test("releaseCodePages unmaps the executable's read-only pages, and the process runs on", () => {
  const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  const out = JSON.parse(r.stdout.toString());
  expect({ ok: out.ok, child: out.child, exitCode: r.exitCode }).toEqual({ ok: true, child: 0, exitCode: 0 });
  expect(out.bytes).toBeGreaterThan(0);
  expect(out.after).toBeLessThan(out.before / 2);
});
