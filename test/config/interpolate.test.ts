// ${VAR} expansion: the rules, and how it shows up in a loaded project and its problems.
import { describe, expect, test } from "bun:test";
import { expand } from "../../src/config/interpolate.ts";
import { load, problemsOf } from "./helpers.ts";

describe("expand", () => {
  const env = { HOST: "db.local", EMPTY: "", PORT: "5432" };
  const cases: [string, string, string, string[]][] = [
    ["no reference", "plain $ text", "plain $ text", []],
    ["a set variable", "${HOST}:${PORT}", "db.local:5432", []],
    ["an unset variable", "x${NOPE}y", "xy", ["${NOPE} is not set"]],
    ["a set but empty variable", "x${EMPTY}y", "xy", []],
    ["a default for unset", "${NOPE:-8080}", "8080", []],
    ["a default for empty with :-", "${EMPTY:-fallback}", "fallback", []],
    ["no default for empty with -", "${EMPTY-fallback}", "", []],
    ["a default for unset with -", "${NOPE-fallback}", "fallback", []],
    ["a set variable ignores the default", "${HOST:-other}", "db.local", []],
    ["an empty default", "${NOPE:-}", "", []],
    ["a default holding a reference", "${NOPE:-${HOST}}", "db.local", []],
    ["a default with spaces and colons", "${NOPE:-a b:c}", "a b:c", []],
    ["$$ is a literal $", "cost: $$5 and $${HOST}", "cost: $5 and ${HOST}", []],
    ["$VAR without braces is left alone", "$HOST", "$HOST", []],
    ["an unterminated reference", "a ${HOST", "a ${HOST", ['unterminated "${" (write $$ for a literal $)']],
    ["an invalid name", "${1X}", "", ['invalid reference "${1X}" (write ${NAME} or ${NAME:-default})']],
    ["an empty reference", "${}", "", ['invalid reference "${}" (write ${NAME} or ${NAME:-default})']],
    ["an unknown operator", "${HOST:?required}", "", ['invalid reference "${HOST:?required}" (write ${NAME} or ${NAME:-default})']],
  ];
  test.each(cases)("%s", (_title, input, output, messages) => {
    const reported: string[] = [];
    expect(expand(input, env, (m) => reported.push(m))).toBe(output);
    expect(reported).toEqual(messages);
  });
});

describe("in a project", () => {
  test("every string is expanded, in lists and nested mappings too", async () => {
    const yaml = [
      "description: ${DESC}",
      "command: [server, --host, '${HOST}']",
      "env: { URL: 'postgres://${HOST}:${DB_PORT:-5432}/app' }",
      "health_check: { url: 'http://127.0.0.1:${PORT}/health' }",
      "cwd: ${DIR:-.}",
    ].join("\n");
    const project = await load({ "services/api.yml": yaml }, { DESC: "the api", HOST: "0.0.0.0", PORT: "9000" });
    const api = project.services.get("api")!;
    expect(api.description).toBe("the api");
    expect(api.command).toEqual(["server", "--host", "0.0.0.0"]);
    expect(api.env.URL).toBe("postgres://0.0.0.0:5432/app");
    expect(api.healthCheck.url).toBe("http://127.0.0.1:9000/health");
    expect(api.cwd).toBe(project.root);
  });

  test("numbers, durations and booleans may come from variables", async () => {
    const yaml = "command: x\nport: ${P:-8080}\ninstances: ${N}\nstop_timeout: ${T}\nretry_after_error: ${R:-true}\nhealth_check: { retries: '${RETRIES:-5}' }\n";
    const api = (await load({ "services/api.yml": yaml }, { N: "2", T: "1.5" })).services.get("api")!;
    expect([api.port, api.instances, api.stopTimeoutMs, api.retryAfterError, api.healthCheck.retries]).toEqual([8080, 2, 1500, true, 5]);
  });

  test("a value from a variable is validated like one written in place", async () => {
    expect(await problemsOf({ "services/api.yml": "command: x\nport: ${P}\n" }, { P: "eighty" })).toEqual([
      "services/api.yml:2:7: port: must be a port number (1-65535)",
    ]);
  });

  test("unset variables are problems at the string that uses them", async () => {
    const files = {
      "sv.yml": "state_dir: ${STATE}\nservices:\n  web:\n    command: ${WEB_CMD}\n",
      "services/api.yml": "command: x\nenv:\n  A: ${A_VALUE}\n  B: '${B1}${B2:-ok}'\n",
    };
    expect(await problemsOf(files)).toEqual([
      "sv.yml:1:12: state_dir: ${STATE} is not set",
      "sv.yml:4:14: services.web.command: ${WEB_CMD} is not set",
      "services/api.yml:3:6: env.A: ${A_VALUE} is not set",
      "services/api.yml:4:6: env.B: ${B1} is not set",
    ]);
  });

  test("the empty string an unset variable leaves is not reported again", async () => {
    expect(await problemsOf({ "services/api.yml": "command: ['${BIN}', run]\nport: ${P}\n" })).toEqual([
      "services/api.yml:1:11: command.0: ${BIN} is not set",
      "services/api.yml:2:7: port: ${P} is not set",
    ]);
  });

  test("x- keys are left alone", async () => {
    const yaml = "x-template: &t { command: '${NOT_SET}' }\nservices:\n  api: { command: a, x-note: '${ALSO_NOT_SET}' }\n";
    expect(await problemsOf({ "sv.yml": yaml })).toEqual([]);
  });

  test("inline services are expanded once: $$ survives as one $", async () => {
    const project = await load({ "sv.yml": "services:\n  web:\n    command: echo $$HOME $${X}\n" }, { X: "no" });
    expect(project.services.get("web")!.command).toBe("echo $HOME ${X}");
  });

  test("keys are not expanded", async () => {
    const project = await load({ "services/api.yml": "command: x\nenv: { '${K}': v }\n" }, { K: "k" });
    expect(project.services.get("api")!.env).toEqual({ "${K}": "v" });
  });
});
