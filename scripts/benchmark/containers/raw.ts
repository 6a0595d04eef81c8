// The baselines for sv's container commands: the least a client can do, over the engine's unix socket with
// Bun's fetch, a fixed API version (no /_ping), no image or network check. Prints one JSON line.
//
//   bun scripts/benchmark/containers/raw.ts start SOCKET NAME PORT BODY.json
//     POST /containers/create?name=NAME with BODY.json (the benchmark passes the one sv sent, with its host port
//     and labels changed), then POST /containers/{id}/start, while polling 127.0.0.1:PORT from before the create
//     until it accepts a TCP connection, then until an HTTP GET / is answered. Times in ms from before the create:
//       {"id":…, "createdMs":…, "startedMs":…, "acceptMs":…, "servingMs":…}
//     The container is left running; the caller removes it.
//   bun scripts/benchmark/containers/raw.ts list SOCKET LABEL
//     GET /containers/json?all=1&filters={"label":[LABEL]}, the call `sv status` makes: {"listMs":…, "count":…}
import { readFileSync } from "node:fs";
import { acceptsNow, servesNow } from "./accepts.ts";

const API = "http://localhost/v1.41";
const [mode, socket, ...rest] = process.argv.slice(2);
if (mode === "list" && socket && rest[0]) {
  const t0 = performance.now();
  const res = await fetch(`${API}/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [rest[0]] }))}`, { unix: socket } as RequestInit);
  const rows = (await res.json()) as unknown[];
  const listMs = performance.now() - t0;
  if (!res.ok) {
    console.error(`raw: list: ${res.status}`);
    process.exit(1);
  }
  console.log(JSON.stringify({ listMs, count: rows.length }));
  process.exit(0);
}
const [name, portText, bodyFile] = rest;
if (mode !== "start" || !socket || !name || !portText || !bodyFile) {
  console.error("usage: bun raw.ts start SOCKET NAME PORT BODY.json | bun raw.ts list SOCKET LABEL");
  process.exit(2);
}
const port = Number(portText);
const body = readFileSync(bodyFile, "utf8");

const accepts = () => acceptsNow(port);

const serves = () => servesNow(port);

let failed: string | null = null;
const t0 = performance.now();
const poll = (async () => {
  while (!(await accepts())) {
    if (failed) return null;
    if (performance.now() - t0 > 30_000) throw new Error(`port ${port} did not accept within 30 s`);
    await Bun.sleep(1);
  }
  const acceptMs = performance.now() - t0;
  while (!(await serves())) {
    if (performance.now() - t0 > 30_000) throw new Error(`port ${port} accepted but did not serve HTTP within 30 s`);
    await Bun.sleep(1);
  }
  return { acceptMs, servingMs: performance.now() - t0 };
})();

async function call(path: string, payload?: string): Promise<string> {
  const res = await fetch(`${API}${path}`, {
    method: "POST",
    unix: socket,
    headers: payload ? { "content-type": "application/json" } : {},
    body: payload,
  } as RequestInit);
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text.trim()}`);
  return text;
}

try {
  const { Id } = JSON.parse(await call(`/containers/create?name=${encodeURIComponent(name)}`, body)) as { Id: string };
  const createdMs = performance.now() - t0;
  await call(`/containers/${Id}/start`);
  const startedMs = performance.now() - t0;
  const seen = await poll;
  console.log(JSON.stringify({ id: Id, createdMs, startedMs, ...seen }));
} catch (e) {
  failed = (e as Error).message;
  console.error(`raw: ${failed}`);
  process.exit(1);
}
