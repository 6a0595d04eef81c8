// Example HTTP API: /health is 200 only while the db answers and has been migrated.
import { ask } from "./db-client.ts";

const port = Number(process.env.PORT ?? 8787);
let hits = 0;

Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/health") {
      const ok = await ask("MIGRATED?").then((a) => a === "YES", () => false);
      return new Response(ok ? "ok\n" : "db not ready\n", { status: ok ? 200 : 503 });
    }
    if (path === "/hits") return Response.json({ hits: ++hits });
    return new Response("not found\n", { status: 404 });
  },
});
console.log(`api listening on http://127.0.0.1:${port} (db at ${process.env.DB_ADDR})`);
