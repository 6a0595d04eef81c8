// Users and groups from /etc/passwd and /etc/group: the one place sv reads them.
import { readFileSync } from "node:fs";

/**
 * The fields of the entry whose name (or, unless `idOnly`, name or numeric id) is `key`: passwd is
 * name:x:uid:gid:gecos:home:shell, group name:x:gid:members. Undefined when there is none; throws when
 * the file cannot be read.
 */
export function accountEntry(file: "/etc/passwd" | "/etc/group", key: string, opts: { idOnly?: boolean } = {}): string[] | undefined {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[2] === key || (!opts.idOnly && f[0] === key));
}
