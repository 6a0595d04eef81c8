// TCP probe: does host:port accept a connection within the timeout?

/** Resolves null when a connection opens, else the reason it did not. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => finish(`${host}:${port} did not accept a connection within ${timeoutMs} ms`), timeoutMs);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(socket) {
          socket.end();
          finish(null);
        },
        data() {},
        error(_socket, error) {
          finish(`${host}:${port}: ${error.message}`);
        },
        connectError(_socket, error) {
          finish(`${host}:${port} refused the connection${(error as NodeJS.ErrnoException).code && (error as NodeJS.ErrnoException).code !== "ECONNREFUSED" ? ` (${(error as NodeJS.ErrnoException).code})` : ""}`);
        },
      },
    }).catch((error: Error) => finish(`${host}:${port} refused the connection (${(error as NodeJS.ErrnoException).code ?? error.message})`));
  });
}
