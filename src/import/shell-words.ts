// Shell words: split a command line as POSIX shlex does (supervisord's command=, compose's string command), and quote back.

/** The words of `line`: blanks separate, '…' is literal, "…" takes \" \\ \$ \` escapes, \x outside quotes is x. */
export function splitWords(line: string): string[] | { error: string } {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) return { error: "missing closing '" };
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let text = "";
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1]!)) text += line[++j];
        else text += line[j];
      }
      if (j >= line.length) return { error: 'missing closing "' };
      word = (word ?? "") + text;
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[++i];
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

const SAFE = /^[A-Za-z0-9_\/.,:=@%+-]+$/;

/** `word` as one shell word: as is when nothing in it is special, else single-quoted. */
export function quoteWord(word: string): string {
  return SAFE.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
