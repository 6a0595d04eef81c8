// --log-format json (issue 8): every line sv itself writes — progress, results, reconcile actions, watch's
// events, warnings, errors — is one JSON object on stderr, with ts, level, msg and, where they apply,
// service, unit, event, phase, from, to, reason. Every line is parsed here; none may be plain text.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { LogFields } from "../../src/output/logger.ts";
import { SV, status, sv, tempProject, waitFor } from "../helpers/project.ts";


/** A JSON log line: ts, level and msg, then the fields of output/logger.ts (checked against FIELDS below). */
type Rec = LogFields & { ts: string; level: string; msg: string };

const FIELDS = new Set(["ts", "level", "msg", "service", "unit", "event", "phase", "from", "to", "reason", "hint"]);

/** Every line of `text` as a record, each checked for the fields it must and may have. */
function records(text: string): Rec[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const r = JSON.parse(line) as Rec;
      expect(Object.keys(r).filter((k) => !FIELDS.has(k))).toEqual([]);
      expect(new Date(r.ts).toISOString()).toBe(r.ts);
      expect(["debug", "info", "warn", "error"]).toContain(r.level);
      expect(typeof r.msg).toBe("string");
      return r;
    });
}

test("up, reconcile, down, status and errors: only JSON records on stderr, nothing on stdout but the table", async () => {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"] }));
  p.write("services/bad.yml", JSON.stringify({ command: ["sh", "-c", "exit 3"], restart: "no" }));

  const up = await sv(p.root, ["--log-format", "json", "up"]);
  expect([up.code, up.stdout]).toEqual([1, ""]);
  const upRecs = records(up.stderr);
  expect(upRecs).toContainEqual(expect.objectContaining({ level: "info", service: "web", event: "result", phase: "ok" }));
  expect(upRecs).toContainEqual(expect.objectContaining({ level: "error", service: "bad", event: "result", phase: "failed" }));
  expect(upRecs.at(-1)).toMatchObject({ level: "error", msg: "up: 1 of 2 services failed" });

  const web = (await status(p.root)).find((s) => s.name === "web")!;
  process.kill(web.pid!, "SIGKILL");
  await waitFor(() => {
    try {
      return / Z /.test(readFileSync(`/proc/${web.pid}/stat`, "utf8"));
    } catch {
      return true;
    }
  }, "web to die");
  const rec = await sv(p.root, ["reconcile", "--log-format", "json"]);
  expect(rec.stdout).toBe("");
  expect(records(rec.stderr)).toContainEqual(
    expect.objectContaining({ event: "transition", service: "web", unit: "web", from: "running", to: "restarting", reason: "web was killed by SIGKILL" }),
  );

  const down = await sv(p.root, ["down", "--log-format=json"]);
  expect([down.code, down.stdout]).toEqual([0, ""]);
  expect(records(down.stderr).filter((r) => r.event === "result").map((r) => [r.service, r.phase]).sort()).toEqual([
    ["bad", "ok"],
    ["web", "ok"],
  ]);

  // A warning (the config cannot be loaded) and an error with its hint.
  p.write("services/web.yml", "command: [unclosed\n");
  const st = await sv(p.root, ["status", "--log-format", "json"]);
  expect(st.stdout).toContain("NAME");
  expect(records(st.stderr)).toEqual([expect.objectContaining({ level: "warn", msg: expect.stringContaining("the configuration cannot be loaded") })]);
  const bad = await sv(p.root, ["up", "nosuch", "--log-format", "json"]);
  const badRecs = records(bad.stderr);
  expect(badRecs.at(-1)).toMatchObject({ level: "error", msg: "the configuration has a problem" });
  expect(badRecs[0]!.msg).toStartWith("services/web.yml:");
});

test("sv watch --log-format json: its banner and every heal, as records on stderr", async () => {
  const p = tempProject();
  p.write("services/web.yml", JSON.stringify({ command: ["sleep", "1000"], restart_delay: "100ms" }));
  expect((await sv(p.root, ["up"])).code).toBe(0);
  const proc = Bun.spawn([SV, "watch", "--interval", "200ms", "--log-format", "json"], { cwd: p.root, env: { ...process.env, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
  let [out, err] = ["", ""];
  const pumps = [
    (async () => {
      for await (const c of proc.stdout) out += new TextDecoder().decode(c);
    })(),
    (async () => {
      for await (const c of proc.stderr) err += new TextDecoder().decode(c);
    })(),
  ];
  try {
    await waitFor(() => err.includes('"event":"watch"'), "the banner record");
    const pid = (await status(p.root))[0]!.pid!;
    process.kill(pid, "SIGKILL");
    await waitFor(() => /"to":"running"/.test(err), `the restart as a record:\n${err}`);
  } finally {
    proc.kill("SIGINT");
  }
  expect(await proc.exited).toBe(130);
  await Promise.all(pumps);
  expect(out).toBe("");
  const recs = records(err);
  expect(recs[0]).toMatchObject({ level: "info", event: "watch", msg: expect.stringMatching(/^watching 1 service in /) });
  expect(recs).toContainEqual(expect.objectContaining({ event: "transition", unit: "web", from: "running", to: "restarting" }));
  expect(recs).toContainEqual(expect.objectContaining({ event: "transition", unit: "web", to: "running" }));
});
