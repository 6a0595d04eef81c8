// A command as written (a string for /bin/sh -c, or an argv list) as the argv to run.

/** argv for a command: a string runs through /bin/sh -c, a list is argv as is. */
export function commandArgv(command: string | string[]): string[] {
  return typeof command === "string" ? ["/bin/sh", "-c", command] : command;
}
