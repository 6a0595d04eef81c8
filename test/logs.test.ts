// sv logs: the tail (from the end, across rotated files), merged prefixes, JSON, following through rotation.
import { expect, test } from "bun:test";
import { appendFileSync, mkdirSync, renameSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rotateLog } from "../src/runtime/logs/rotate.ts";
import { readTail, tailLog } from "../src/runtime/logs/tail.ts";
import { SV, fixtureCommand, sv, tempProject, waitFor } from "./helpers/project.ts";

const lines = (from: number, to: number, tag = "line") => Array.from({ length: to - from + 1 }, (_, i) => `${tag} ${from + i}\n`).join("");

/** A project with api, db, and worker (2 instances); logs written as if they had run. */
function project(logs: Record<string, string> = {}) {
  const p = tempProject({
    "services/api.yml": "command: sleep 60\n",
    "services/db.yml": "command: sleep 60\n",
    "services/worker.yml": "command: sleep 60\ninstances: 2\n",
  });
  for (const [unit, text] of Object.entries(logs)) p.write(`.sv/log/${unit}.log`, text);
  return { ...p, log: (unit: string) => join(p.root, ".sv/log", `${unit}.log`) };
}

// runtime/logs/

test("the tail is the last n lines; an unfinished last line counts; n beyond the file gives it all", () => {
  const p = project({ api: `${lines(1, 300)}half a line` });
  expect(tailLog(p.log("api"), 3)).toEqual(["line 299", "line 300", "half a line"]);
  expect(tailLog(p.log("api"), 1000)).toHaveLength(301);
  expect(tailLog(p.log("api"), 0)).toEqual([]);
  const tail = readTail(p.log("api"), 2);
  expect(tail.lines).toEqual(["line 299", "line 300"]);
  expect(tail.partial.toString()).toBe("half a line");
  expect(tail.offset).toBe(statSync(p.log("api")).size);
  expect(tailLog(join(p.root, "missing.log"), 5)).toEqual([]);
});

test("lines longer than a read chunk come back whole", () => {
  const long = "x".repeat(200_000);
  const p = project({ api: `first\n${long}\nlast\n` });
  expect(tailLog(p.log("api"), 2)).toEqual([long, "last"]);
  expect(tailLog(p.log("api"), 3)).toEqual(["first", long, "last"]);
});

test("rotated files are read, oldest last, only when the current log has too few lines; a line cut by rotation is whole", () => {
  const p = project({ api: "cut line\nline 6\n" });
  writeFileSync(`${p.log("api")}.1`, `${lines(3, 4)}this is a `);
  writeFileSync(`${p.log("api")}.2`, lines(1, 2));
  // Whether "cut line" is whole depends on the byte before it, so .1 is looked at here.
  expect(tailLog(p.log("api"), 2)).toEqual(["this is a cut line", "line 6"]);
  expect(tailLog(p.log("api"), 3)).toEqual(["line 4", "this is a cut line", "line 6"]);
  expect(tailLog(p.log("api"), 100)).toEqual(["line 1", "line 2", "line 3", "line 4", "this is a cut line", "line 6"]);

  // A .1 that is not a regular file of ours (a directory here; a planted link is the same) is never read.
  const q = project({ api: lines(1, 50) });
  mkdirSync(`${q.log("api")}.1`);
  expect(tailLog(q.log("api"), 49)).toHaveLength(49);
  expect(tailLog(q.log("api"), 50)).toEqual(lines(1, 50).trimEnd().split("\n"));
});

test("the tail of a 64 GiB (sparse) log is read from the end, not from the start", () => {
  const p = project({ api: "" });
  truncateSync(p.log("api"), 64 * 1024 ** 3);
  appendFileSync(p.log("api"), `\n${lines(1, 100)}`);
  expect(tailLog(p.log("api"), 100)).toEqual(lines(1, 100).trimEnd().split("\n"));
});

// sv logs, the compiled binary

test("several services are merged with aligned name prefixes; one service prints bare lines", async () => {
  const p = project({ api: lines(1, 5, "api"), "worker.0": "w0 a\nw0 b\n", "worker.1": "w1 a\n" });
  const all = await sv(p.root, ["logs", "-n", "2"]);
  expect(all).toMatchObject({ code: 0, stderr: "" });
  expect(all.stdout).toBe(["api      | api 4", "api      | api 5", "worker.0 | w0 a", "worker.0 | w0 b", "worker.1 | w1 a", ""].join("\n"));

  const one = await sv(p.root, ["logs", "api", "-n", "3"]);
  expect(one.stdout).toBe("api 3\napi 4\napi 5\n");
  expect((await sv(p.root, ["logs", "worker.1"])).stdout).toBe("w1 a\n");
  expect((await sv(p.root, ["logs", "api", "--lines", "0"])).stdout).toBe("");
  const byDefault = await sv(p.root, ["logs", "api"]);
  expect(byDefault.stdout.split("\n")).toHaveLength(6);
});

test("--json prints one document of {service, line}", async () => {
  const p = project({ api: "a1\na2\n", "worker.0": "w0\n" });
  const r = await sv(p.root, ["logs", "--json", "-n", "1"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ lines: [{ service: "api", line: "a2" }, { service: "worker.0", line: "w0" }] });
});

test("a service that never ran is a note on stderr, not an error; an unknown one is a usage error", async () => {
  const p = project({ api: "a1\n", "worker.0": "w0\n" });
  const never = await sv(p.root, ["logs", "db", "worker"]);
  expect(never.code).toBe(0);
  expect(never.stdout).toBe("w0\n"); // one log shown: bare lines
  expect(never.stderr).toBe("ℹ db has no log yet: never started\nℹ worker.1 has no log yet: never started\n");

  const unknown = await sv(p.root, ["logs", "apx"]);
  expect(unknown).toEqual({ code: 2, stdout: "", stderr: '✘ unknown service "apx"\n  hint: did you mean "api"?\n' });
  const badCount = await sv(p.root, ["logs", "-n", "ten"]);
  expect(badCount.code).toBe(2);
  expect(badCount.stderr).toStartWith('✘ -n wants a number of lines, not "ten"\n');

  const empty = project();
  expect(await sv(empty.root, ["logs"])).toEqual({ code: 0, stdout: "", stderr: "ℹ no service has a log yet\n" });
});

test("prefixes are coloured on a terminal, and not with NO_COLOR", async () => {
  const p = project({ api: "a\n", db: "d\n" });
  const onTty = (env: Record<string, string | undefined>) =>
    Bun.spawnSync(["script", "-qec", `${SV} logs`, "/dev/null"], { cwd: p.root, env: { ...process.env, TERM: "xterm", ...env } }).stdout.toString();
  const { NO_COLOR: _, ...withoutNoColor } = process.env;
  const coloured = Bun.spawnSync(["script", "-qec", `${SV} logs`, "/dev/null"], { cwd: p.root, env: { ...withoutNoColor, TERM: "xterm" } }).stdout.toString();
  expect(coloured).toContain("\x1b[36mapi |\x1b[39m a");
  expect(coloured).toContain("\x1b[33mdb  |\x1b[39m d");
  expect(onTty({ NO_COLOR: "1" })).toBe("api | a\r\ndb  | d\r\n");
});

/** Run `sv logs -f …` in the background, collecting its stdout. */
function follow(root: string, args: string[]) {
  const proc = Bun.spawn([SV, "logs", "-f", ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const reading = (async () => {
    for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
  })();
  return {
    proc,
    out: () => out,
    until: (text: string) => waitFor(() => out.includes(text), `"${text}" in sv logs -f output; got:\n${out}`),
    stop: async (signal: NodeJS.Signals) => (proc.kill(signal), await reading, { code: await proc.exited, stderr: await new Response(proc.stderr).text() }),
  };
}

test("-f prints new lines as written, through rotation, truncation and replacement; SIGTERM exits 143", async () => {
  const p = project({ api: lines(1, 10, "api"), db: "db 1\n" });
  const f = follow(p.root, ["api", "db", "-n", "2"]);
  await f.until("db  | db 1\n");
  expect(f.out()).toBe("api | api 9\napi | api 10\ndb  | db 1\n");

  appendFileSync(p.log("api"), "api 11\n");
  await f.until("api | api 11\n");
  appendFileSync(p.log("api"), "no newline yet");
  appendFileSync(p.log("db"), "db 2\n");
  await f.until("db  | db 2\n");
  expect(f.out()).not.toContain("no newline yet");
  appendFileSync(p.log("api"), ", now\n");
  await f.until("api | no newline yet, now\n");

  // Rotation in place: the lines appended just before it are read from .1, none twice.
  appendFileSync(p.log("api"), lines(12, 20, "api"));
  expect(rotateLog(p.log("api"), 1, 5)).toMatchObject({ rotated: true });
  appendFileSync(p.log("api"), "api 21\n");
  await f.until("api | api 21\n");

  // Truncated by hand, then written again.
  truncateSync(p.log("api"), 0);
  appendFileSync(p.log("api"), "after truncate\n");
  await f.until("api | after truncate\n");

  // Replaced by a new file (a rename-style rotation): the old file is drained first.
  renameSync(p.log("db"), `${p.log("db")}.old`);
  appendFileSync(`${p.log("db")}.old`, "db 3 (last in old file)\n");
  appendFileSync(p.log("db"), "db 4 (new file)\n");
  await f.until("db  | db 4 (new file)\n");

  const { code, stderr } = await f.stop("SIGTERM");
  expect({ code, stderr }).toEqual({ code: 143, stderr: "" });
  const api = f.out().split("\n").filter((l) => l.startsWith("api"));
  expect(api).toEqual(["api | api 9", "api | api 10", "api | api 11", "api | no newline yet, now", ...lines(12, 21, "api | api").trimEnd().split("\n"), "api | after truncate"]);
  expect(f.out().split("\n").filter((l) => l.startsWith("db"))).toEqual(["db  | db 1", "db  | db 2", "db  | db 3 (last in old file)", "db  | db 4 (new file)"]);
});

test("-f -n 0 prints only new lines, waits for a log that does not exist yet, and exits 130 on SIGINT", async () => {
  const p = project({ api: "old\n" });
  const f = follow(p.root, ["-n", "0"]);
  // Nothing to wait for but the process being up: write until the first line shows.
  await waitFor(() => (appendFileSync(p.log("api"), "new\n"), f.out().includes("api      | new\n")), "a new api line");
  mkdirSync(join(p.root, ".sv/log"), { recursive: true });
  appendFileSync(p.log("worker.1"), "born later\n");
  await f.until("worker.1 | born later\n");
  expect(f.out()).not.toContain("old");
  const { code } = await f.stop("SIGINT");
  expect(code).toBe(130);
});

test("-f --json prints one JSON object per line", async () => {
  const p = project({ api: "a1\n", db: "d1\n" });
  const proc = Bun.spawn([SV, "logs", "-f", "--json", "-n", "1"], { cwd: p.root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const reading = (async () => {
    for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
  })();
  await waitFor(() => out.includes('"d1"'), "the tail as JSON lines");
  appendFileSync(p.log("api"), "a2\n");
  await waitFor(() => out.includes('"a2"'), "a new line as JSON");
  proc.kill("SIGTERM");
  await reading;
  expect(await proc.exited).toBe(143);
  expect(out.trimEnd().split("\n").map((l) => JSON.parse(l))).toEqual([
    { service: "api", line: "a1" },
    { service: "db", line: "d1" },
    { service: "api", line: "a2" },
  ]);
});

test("the logs of real services started by sv up, one per instance", async () => {
  const p = tempProject({
    "services/hello.yml": `command: ${fixtureCommand("announce.ts")}\ninstances: 2\n`,
  });
  const up = await sv(p.root, ["up"]);
  expect(up.code).toBe(0);
  await waitFor(async () => (await sv(p.root, ["logs"])).stdout.split("\n").length === 5, "both instances to print");
  const r = await sv(p.root, ["logs"]);
  expect(r.stdout.split("\n").sort()).toEqual(["", "hello.0 | instance 0 of hello ready", "hello.0 | to stderr", "hello.1 | instance 1 of hello ready", "hello.1 | to stderr"]);
  await sv(p.root, ["down"]);
});

test("each run of a multi-shot service has its own log, shown with its run number", async () => {
  const p = tempProject({ "services/job.yml": "type: multi-shot\ncommand: echo ran $SV_INSTANCE\n" });
  for (const _ of [1, 2]) expect((await sv(p.root, ["up", "job"])).code).toBe(0);
  expect((await sv(p.root, ["logs", "job"])).stdout).toBe("job.1 | ran 1\njob.2 | ran 2\n");
  expect((await sv(p.root, ["logs", "job.2"])).stdout).toBe("ran 2\n");
});
