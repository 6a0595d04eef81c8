// env_file: the line format, problems with positions, and precedence (env: over env_file, later files over earlier).
import { describe, expect, test } from "bun:test";
import { parseEnvFile } from "../../src/config/env-file.ts";
import { load, problemsOf } from "./helpers.ts";

describe("parseEnvFile", () => {
  const cases: [string, string, Record<string, string>][] = [
    ["plain pairs", "A=1\nB=two words\n", { A: "1", B: "two words" }],
    ["blank lines, comments, export, spaces around =", "\n# comment\n  export A = 1  \n\t# indented comment\n", { A: "1" }],
    ["a comment after a bare value", "A=1 # one\nB=a#b\n", { A: "1", B: "a#b" }],
    ["an empty value", "A=\nB=''\n", { A: "", B: "" }],
    ["single quotes are literal", "A='x ${HOME} \\n # not a comment'\n", { A: "x ${HOME} \\n # not a comment" }],
    ["double quotes take escapes", 'A="line1\\nline2\\t\\"q\\" \\\\ \\$x"\n', { A: 'line1\nline2\t"q" \\ $x' }],
    ["a comment after a quoted value", 'A="v" # note\n', { A: "v" }],
    ["= inside a value", "URL=postgres://u:p@h/db?a=b\n", { URL: "postgres://u:p@h/db?a=b" }],
    ["references to earlier keys and the environment", "A=x\nB=${A}-${FROM_ENV}-${NOPE:-d}-${NOPE}\n", { A: "x", B: "x-env-d-" }],
    ["the later of two equal keys", "A=1\nA=2\n", { A: "2" }],
    ["CRLF line ends", "A=1\r\nB=2\r\n", { A: "1", B: "2" }],
    ["dots and dashes in keys", "log.level=debug\nmy-key=1\n", { "log.level": "debug", "my-key": "1" }],
  ];
  test.each(cases)("%s", (_title, text, vars) => {
    expect(parseEnvFile(text, { FROM_ENV: "env" })).toEqual({ vars, problems: [] });
  });

  test("lines it cannot read are problems with their line and column", () => {
    expect(parseEnvFile('A=1\njust words\nB="open\nC=\'x\' y\n=1\n', {}).problems).toEqual([
      { line: 2, col: 1, message: "expected KEY=VALUE" },
      { line: 3, col: 3, message: 'missing closing "' },
      { line: 4, col: 3, message: "unexpected text after the closing '" },
      { line: 5, col: 1, message: "expected KEY=VALUE" },
    ]);
  });
});

describe("env_file in a service", () => {
  test("env: wins over env_file, a later env_file over an earlier one; paths are relative to the root", async () => {
    const project = await load({
      "services/api.yml": "command: x\nenv_file: [config/base.env, .env]\nenv: { A: from-env }\n",
      "config/base.env": "A=base\nB=base\nC=base\n",
      ".env": "B=dot\n",
    });
    expect(project.services.get("api")!.env).toEqual({ A: "from-env", B: "dot", C: "base" });
  });

  test("a single path", async () => {
    const project = await load({ "services/api.yml": "command: x\nenv_file: .env\n", ".env": "A=1\n" });
    expect(project.services.get("api")!.env).toEqual({ A: "1" });
  });

  test("a missing env_file is a config problem at the path that names it", async () => {
    expect(await problemsOf({ "services/api.yml": "command: x\nenv_file: .env\n" })).toEqual(["services/api.yml:2:11: env_file: env file .env does not exist"]);
    expect(await problemsOf({ "services/api.yml": "command: x\nenv_file:\n  - a.env\n  - b.env\n", "a.env": "" })).toEqual([
      "services/api.yml:4:5: env_file.1: env file b.env does not exist",
    ]);
  });

  test("a folder is not an env file", async () => {
    expect(await problemsOf({ "services/api.yml": "command: x\nenv_file: config\n", "config/x": "" })).toEqual(["services/api.yml:2:11: env_file: env file config is not a file"]);
  });

  test("a bad line is reported in the env file itself", async () => {
    expect(await problemsOf({ "services/api.yml": "command: x\nenv_file: .env\n", ".env": "A=1\noops\n" })).toEqual([".env:2:1: expected KEY=VALUE"]);
  });
});
