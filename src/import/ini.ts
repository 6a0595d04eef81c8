// INI as supervisord reads it (Python's RawConfigParser): [sections], `key = value` or `key: value`, `;`/`#` comments
// (inline too, after whitespace), indented continuation lines, keys lower-cased; a later duplicate wins.

export interface IniEntry {
  key: string;
  value: string;
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  entries: Map<string, IniEntry>;
}

/** The sections of `text` in order, or the first line that is no INI. */
export function parseIni(text: string): { sections: IniSection[] } | { error: string; line: number } {
  const sections: IniSection[] = [];
  let section: IniSection | undefined;
  let last: IniEntry | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = i + 1;
    if (/^\s*$/.test(raw)) {
      last = undefined;
      continue;
    }
    if (/^\s*[;#]/.test(raw)) continue;
    if (/^\s/.test(raw) && last) {
      const more = stripComment(raw).trim();
      if (more) last.value = last.value ? `${last.value}\n${more}` : more;
      continue;
    }
    const header = /^\[([^\]]+)\]\s*([;#].*)?$/.exec(raw.trim());
    if (header) {
      const name = header[1]!.trim();
      section = sections.find((s) => s.name === name);
      if (!section) sections.push((section = { name, line, entries: new Map() }));
      last = undefined;
      continue;
    }
    if (!section) return { error: "a key before any [section]", line };
    const m = /^([^=:]*?)\s*[=:]\s*(.*)$/.exec(raw.trim());
    if (!m || m[1] === "") return { error: 'expected "key = value" or "[section]"', line };
    const key = m[1]!.toLowerCase();
    last = { key, value: stripComment(m[2]!).trim(), line };
    section.entries.set(key, last);
  }
  return { sections };
}

/** The text before an inline comment: `;` or `#` after whitespace. */
function stripComment(value: string): string {
  const m = /\s[;#]/.exec(value);
  return m ? value.slice(0, m.index) : value;
}
