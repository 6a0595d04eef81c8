// The API's secrets on disk (token files, the TLS certificate and key): small regular files, read the way
// config files are (config/inputs.ts), or a one-line usage error naming the setting — never an internal
// error, never a hang on a FIFO.
import { readConfigText, UnreadableFile } from "../../config/inputs.ts";
import { EXIT, SvError } from "../../errors.ts";

/** The text of `file`, set by the sv.yml key `key` (e.g. `api.tls.cert`). */
export function readKeyFile(key: string, file: string): string {
  const fail = (why: string, hint?: string) => new SvError(`${key}: ${file} ${why}`, { exitCode: EXIT.usage, hint });
  try {
    return readConfigText(file).text;
  } catch (e) {
    if (e instanceof UnreadableFile) {
      if (e.kind === null) throw fail("is larger than 1 MiB");
      throw fail(e.kind === "a directory" ? "is a directory" : "is not a regular file", `point ${key} at a file`);
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw code === "ENOENT" ? fail("does not exist") : fail(`cannot be read (${code ?? (e as Error).message})`);
  }
}
