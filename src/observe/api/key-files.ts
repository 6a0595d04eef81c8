// The API's secrets on disk (token files, the TLS certificate and key): small regular files, or a
// one-line usage error naming the setting — never an internal error, never a hang on a FIFO.
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { EXIT, SvError } from "../../errors.ts";

/** Far more than any PEM chain or token needs. */
const MAX_BYTES = 1 << 20;

/** The text of `file`, set by the sv.yml key `key` (e.g. `api.tls.cert`). */
export function readKeyFile(key: string, file: string): string {
  const fail = (why: string, hint?: string) => new SvError(`${key}: ${file} ${why}`, { exitCode: EXIT.usage, hint });
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw code === "ENOENT" ? fail("does not exist") : fail(`cannot be read (${code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw fail("is a directory", `point ${key} at a file`);
    if (!st.isFile()) throw fail("is not a regular file", `point ${key} at a file`);
    if (st.size > MAX_BYTES) throw fail(`is larger than ${MAX_BYTES >> 20} MiB`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
