// Text that arrives in pieces (a stream, a follower), cut into whole lines.

/** Split text fed in pieces into lines, keeping an unfinished line for the next piece (feed "\n" to end it). */
export function lineSplitter(onLine: (line: string) => void): (text: string) => void {
  let partial = "";
  return (text) => {
    const parts = (partial + text).split("\n");
    partial = parts.pop()!;
    for (const p of parts) onLine(p);
  };
}
