// Example oneshot: migrate the db, then exit 0.
import { ask } from "./db-client.ts";

const answer = await ask("MIGRATE");
console.log(`migrate: ${answer}`);
process.exit(answer === "OK" ? 0 : 1);
