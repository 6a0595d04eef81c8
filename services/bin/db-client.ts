// Send one command to the example db and print the answer: bun services/bin/db-client.ts MIGRATE
const [host, port] = [process.env.DB_HOST ?? "127.0.0.1", Number(process.env.DB_PORT ?? 54329)];
const command = process.argv[2] ?? "PING";

export function ask(line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open: (s) => void s.write(`${line}\n`),
        data: (s, d) => {
          resolve(d.toString().trim());
          s.end();
        },
        connectError: (_s, e) => reject(e),
        error: (_s, e) => reject(e),
      },
    }).catch(reject);
  });
}

if (import.meta.main) {
  const answer = await ask(command);
  console.log(answer);
  process.exit(answer.startsWith("ERR") ? 1 : 0);
}
