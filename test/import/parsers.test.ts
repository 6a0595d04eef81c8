// The hand-written readers of sv import, table-driven: shell words, INI, supervisord values, $ in strings, Procfiles, ports.
import { describe, expect, test } from "bun:test";
import { fromInterpolated, literal } from "../../src/import/dollars.ts";
import { formatMs, parseGoDuration } from "../../src/import/durations.ts";
import { parseIni } from "../../src/import/ini.ts";
import { NameMap, toName } from "../../src/import/names.ts";
import { evidentPort } from "../../src/import/ports.ts";
import { parseProcfile } from "../../src/import/procfile.ts";
import { splitWords } from "../../src/import/shell-words.ts";
import { expandValue, instanceCommand, parseEnvironment } from "../../src/import/supervisord-values.ts";

describe("splitWords", () => {
  test.each([
    ["sleep 5", ["sleep", "5"]],
    ["  a   b\tc ", ["a", "b", "c"]],
    [`sh -c 'echo "hi there"; exit 0'`, ["sh", "-c", `echo "hi there"; exit 0`]],
    [`echo "a \\"b\\" \\$HOME \\x"`, ["echo", `a "b" $HOME \\x`]],
    [`a\\ b c`, ["a b", "c"]],
    [`--save "" x`, ["--save", "", "x"]],
    [`pre'mid'"end"`, ["premidend"]],
    ["", []],
  ])("%p", (line, words) => expect(splitWords(line)).toEqual(words));
  test("unbalanced quotes", () => {
    expect(splitWords("echo 'oops")).toEqual({ error: "missing closing '" });
    expect(splitWords('echo "oops')).toEqual({ error: 'missing closing "' });
  });
});

describe("fromInterpolated (compose, process-compose)", () => {
  const run = (text: string) => {
    const problems: string[] = [];
    return { out: fromInterpolated(text, (p) => problems.push(p)), problems };
  };
  test.each([
    ["plain", "plain"],
    ["$HOME/x", "${HOME}/x"],
    ["${A}", "${A}"],
    ["${A:-x}", "${A:-x}"],
    ["${A-x}", "${A-x}"],
    ["${A:-$B}", "${A:-${B}}"],
    ["${A:?A is required}", "${A}"],
    ["${A?missing}", "${A}"],
    ["$$HOME and $${X}", "$$HOME and $${X}"],
    ["cost: 5$", "cost: 5$"],
    ["$1", "$1"],
  ])("%p -> %p", (text, out) => expect(run(text)).toEqual({ out, problems: [] }));
  test("forms sv has not are kept as literal text and reported", () => {
    expect(run("${A:+yes}")).toEqual({ out: "$${A:+yes}", problems: ['"${A:+yes}" (a value when set) has no sv form; kept as literal text'] });
    expect(run("x ${A")).toEqual({ out: "x $${A", problems: ['unterminated "${" kept as literal text'] });
  });
});

describe("literal (a shell's text, left alone by sv)", () => {
  test.each([
    ["echo $HOME", "echo $HOME"],
    ["echo ${HOME}", "echo $${HOME}"],
    ["a$$b", "a$$$b"],
    ["no dollars", "no dollars"],
  ])("%p -> %p", (text, out) => expect(literal(text)).toBe(out));
});

describe("parseIni", () => {
  test("sections, both delimiters, comments, continuation lines, lower-cased keys, later duplicates win", () => {
    const r = parseIni(["; top comment", "[program:web]", "command = a --x=1 ; inline", "Directory: /srv", "# full line", "environment=A=1,", "  B=2", "command=b", "", "[group:g]", "programs=web"].join("\n"));
    if ("error" in r) throw new Error(r.error);
    expect(r.sections.map((s) => [s.name, s.line])).toEqual([["program:web", 2], ["group:g", 10]]);
    const web = r.sections[0]!.entries;
    expect([...web.keys()]).toEqual(["command", "directory", "environment"]);
    expect(web.get("command")).toEqual({ key: "command", value: "b", line: 8 });
    expect(web.get("directory")!.value).toBe("/srv");
    expect(web.get("environment")!.value).toBe("A=1,\nB=2");
  });
  test.each([
    ["command=x", { error: "a key before any [section]", line: 1 }],
    ["[a]\njust words", { error: 'expected "key = value" or "[section]"', line: 2 }],
  ])("%p is no INI", (text, error) => expect(parseIni(text)).toEqual(error));
});

describe("supervisord values", () => {
  const x = { here: "/etc/app", program_name: "web", group_name: "backend", numprocs: 3, host_node_name: "box" };
  test.each([
    ["%(here)s/www", "/etc/app/www"],
    ["%(program_name)s-%(group_name)s of %(numprocs)d", "web-backend of 3"],
    ["%(ENV_HOME)s/x", "${HOME}/x"],
    ["100%% $PATH ${X}", "100% $PATH $${X}"],
    ["n=%(process_num)02d", "n=%(process_num)02d"],
  ])("expandValue %p", (value, out) => expect(expandValue(value, x, () => {})).toBe(out));
  test.each([
    [`A="1",B='two, three',C=3`, { A: "1", B: "two, three", C: "3" }],
    [`PORT="%(ENV_PORT)s", GREETING="say \\"hi\\""`, { PORT: "%(ENV_PORT)s", GREETING: 'say "hi"' }],
    ["", {}],
    ["A=1,\nB=2", { A: "1", B: "2" }],
  ])("parseEnvironment %p", (text, env) => expect(parseEnvironment(text)).toEqual(env));
  test("parseEnvironment refuses what is no KEY=value list", () => expect(parseEnvironment("just words")).toBeUndefined());
  test("instanceCommand: the instance number from SV_INSTANCE, offset and zero-padded as written", () => {
    expect(instanceCommand(["/bin/sh", "-c", "echo worker %(process_num)d"], 0)).toBe(`exec /bin/sh -c 'echo worker '"$SV_INSTANCE"`);
    expect(instanceCommand(["app", "--port=80%(process_num)02d"], 1)).toBe(`exec app --port=80"$(printf %02d $((SV_INSTANCE + 1)))"`);
  });
});

describe("parseProcfile", () => {
  test("entries with their lines; comments and blank lines skipped; other lines reported", () => {
    expect(parseProcfile("# c\nweb: bundle exec puma -p $PORT\n\nworker:   rake jobs:work  \nnot a line\nempty:\n")).toEqual({
      entries: [
        { name: "web", command: "bundle exec puma -p $PORT", line: 2 },
        { name: "worker", command: "rake jobs:work", line: 4 },
      ],
      bad: [
        { line: 5, text: "not a line" },
        { line: 6, text: "empty:" },
      ],
    });
  });
});

describe("evidentPort", () => {
  test.each([
    [["gunicorn", "app", "--bind", "0.0.0.0:8000"], {}, 8000],
    ["uvicorn app --port=9000", {}, 9000],
    ["busybox httpd -f -p 127.0.0.1:${WEB_PORT}", {}, "${WEB_PORT}"],
    ["node server.js", { PORT: "3000" }, 3000],
    ["node server.js", { PORT: "${PORT:-3000}" }, "${PORT:-3000}"],
    ["redis-cli -p 6379 ping", {}, undefined],
    ["mkdir -p /tmp/x", {}, undefined],
    ["ssh -p 22 host", {}, undefined],
    ["app --port 99999", {}, undefined],
  ])("%p %p -> %p", (command, env, port) => expect(evidentPort(command, env)).toBe(port as never));
});

describe("names and durations", () => {
  test.each([
    ["web", "web"],
    ["Web.1", "web-1"],
    ["api_server", "api_server"],
    ["--x", "x"],
    ["!!!", "service"],
  ])("toName %p", (raw, name) => expect(toName(raw)).toBe(name));
  test("NameMap keeps names unique and says why one changed", () => {
    const names = new NameMap();
    expect(names.add("web")).toEqual({ name: "web" });
    expect(names.add("Web")).toEqual({ name: "web-2", why: '"Web" is not an sv name ([a-z0-9][a-z0-9_-]{0,62}); named "web-2"' });
    expect(names.get("Web")).toBe("web-2");
  });
  test.each([
    ["1m30s", 90_000],
    ["500ms", 500],
    ["2h", 7_200_000],
    ["10", 10_000],
    ["1.5s", 1500],
    ["soon", undefined],
  ])("parseGoDuration %p", (text, ms) => expect(parseGoDuration(text)).toBe(ms as never));
  test.each([
    [90_000, "90s"],
    [120_000, "2m"],
    [7_200_000, "2h"],
    [250, "250ms"],
    [0, "0s"],
  ])("formatMs %p", (ms, text) => expect(formatMs(ms)).toBe(text));
});
