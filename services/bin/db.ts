// Example "database": a line-based TCP server. PING -> PONG, MIGRATE -> OK, MIGRATED? -> YES/NO.
const port = Number(process.env.PORT ?? 54329);
let migrated = false;

Bun.listen({
  hostname: "127.0.0.1",
  port,
  socket: {
    data(socket, data) {
      for (const line of data.toString().split("\n").filter(Boolean)) {
        if (line === "PING") socket.write("PONG\n");
        else if (line === "MIGRATE") {
          migrated = true;
          socket.write("OK\n");
        } else if (line === "MIGRATED?") socket.write(migrated ? "YES\n" : "NO\n");
        else socket.write("ERR unknown command\n");
      }
    },
  },
});
console.log(`db listening on 127.0.0.1:${port}`);
