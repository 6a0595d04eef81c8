// Example "database": a line-based TCP server. PING -> PONG, MIGRATE -> OK, MIGRATED? -> YES/NO.
// Like a real database it keeps its data on disk (data/db.migrated), so it survives a restart.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";

const port = Number(process.env.PORT ?? 54329);
const marker = "data/db.migrated";

Bun.listen({
  hostname: "127.0.0.1",
  port,
  socket: {
    data(socket, data) {
      for (const line of data.toString().split("\n").filter(Boolean)) {
        if (line === "PING") socket.write("PONG\n");
        else if (line === "MIGRATE") {
          mkdirSync("data", { recursive: true });
          writeFileSync(marker, new Date().toISOString());
          socket.write("OK\n");
        } else if (line === "MIGRATED?") socket.write(existsSync(marker) ? "YES\n" : "NO\n");
        else socket.write("ERR unknown command\n");
      }
    },
  },
});
console.log(`db listening on 127.0.0.1:${port}`);
