// The host phases' side-by-side table: medians and p90s of sv's rows and of what was measured beside them in the
// same runs (floors, bare.sh), the ratios the targets are about, and the profile runs' split.
import type { Sample } from "../phases.ts";
import { fmt, markdownTable, median, ratioOf, type Row, valuesOf, verdict } from "../report.ts";
import { HEAL_INTERVAL_MS, isHostPhase } from "./phases.ts";

/** The nearest-rank percentile `p` (0..100) of `xs`. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

interface Line {
  label: string;
  phase: string;
  /** The row's tool (default sv). */
  tool?: string;
  pick?: (s: Sample) => number | undefined;
  /** The row's ratio target (median / median(baseline)) with its verdict. */
  ratio?: boolean;
  /** median(pick) over median(per) of the same row. */
  per?: (s: Sample) => number | undefined;
  /** A profile figure (Row.stats), ms. */
  stat?: string;
  /** median(pick) minus the median of another row of the same phase. */
  minus?: string[];
}

/** host-up's lines, or host-up-warm's: `sv up` beside bare.sh, their exits (`extra` after sv's), the profile's split. */
function upLines(phase: string, name: string, sv: string, bare: string, extra: Line[] = []): Line[] {
  return [
    { label: `${name}: \`sv up\`, ${sv} -> every port accepts`, phase },
    { label: `${name}: ${bare} -> every port accepts`, phase, tool: "bare" },
    { label: `${name}: sv / bare (target <= 1.5)`, phase, ratio: true },
    { label: `${name}: \`sv up\` exits`, phase, pick: (s) => s.exitMs },
    ...extra,
    { label: `${name}: sv exit / bare exit`, phase, pick: (s) => s.exitMs, per: (s) => s.parts?.bareExit },
    { label: `${name} profile: ssh runs per \`sv up\``, phase, stat: "sshRuns" },
    { label: `${name} profile: before the first ssh`, phase, stat: "firstSshMs" },
    { label: `${name} profile: with an ssh running`, phase, stat: "sshBusyMs" },
  ];
}

const LINES: Line[] = [
  { label: "status: `sv status --json`, 10 services on 3 hosts, warm (target <= 60 ms)", phase: "host-status" },
  { label: "status floor: `sv --version` (the compiled binary's start)", phase: "host-status", tool: "sv --version" },
  { label: "status floor: compiled Bun hello world", phase: "host-status", tool: "hello world" },
  { label: "status floor: one `ssh -O check` over sv's master", phase: "host-status", tool: "ssh -O check" },
  { label: "status floor: one `ssh h1 true` over sv's master", phase: "host-status", tool: "ssh true (mux)" },
  { label: "status floor: `ssh HOST true` to each of 3 hosts in parallel (mux)", phase: "host-status", tool: "3x ssh true ||" },
  { label: "status - `sv --version` - 3 parallel ssh (sv's own work, medians)", phase: "host-status", minus: ["sv --version", "3x ssh true ||"] },
  { label: "status profile: before the first ssh (start, config, store)", phase: "host-status", stat: "firstSshMs" },
  { label: "status profile: with an ssh running", phase: "host-status", stat: "sshBusyMs" },
  { label: "status profile: after the last ssh (probes, output)", phase: "host-status", stat: "afterLastSshMs" },
  { label: "status profile: `sv list` (start + config, no ssh)", phase: "host-status", stat: "listMs" },
  ...upLines("host-up", "up cold", "3 services on 3 hosts, no master", "bare.sh (fresh ssh per host, in parallel)", [
    { label: "up cold: bare.sh exits", phase: "host-up", pick: (s) => s.parts?.bareExit },
    { label: "up cold: bare's slowest ssh (in bare.sh)", phase: "host-up", pick: (s) => s.parts?.bareSsh },
  ]),
  ...upLines("host-up-warm", "up warm", "masters warm", "bare.sh (cold, same runs)"),
  { label: `heal: kill -KILL on the host -> port accepts again (sv watch --interval ${HEAL_INTERVAL_MS / 1000}s)`, phase: "host-heal" },
  { label: "heal: bare start right before (bare.sh, 1 host)", phase: "host-heal", tool: "bare" },
  { label: `heal: ${HEAL_INTERVAL_MS / 1000} s + bare start`, phase: "host-heal", tool: `${HEAL_INTERVAL_MS / 1000}s + bare` },
  { label: `heal / (${HEAL_INTERVAL_MS / 1000} s + bare) (target <= 1)`, phase: "host-heal", ratio: true },
  { label: "heal: kill -> port refuses", phase: "host-heal", pick: (s) => s.closedMs },
  { label: "heal: kill -> sv watch logs the transition (noticed)", phase: "host-heal", pick: (s) => s.parts?.noticed },
  { label: "heal: kill -> sv watch logs running", phase: "host-heal", pick: (s) => s.parts?.running },
  { label: "heal: noticed -> port accepts", phase: "host-heal", pick: (s) => (s.parts?.noticed === undefined ? undefined : s.value - s.parts.noticed) },
];

/** The host phases' table (Markdown), or "" when none ran. */
export function renderHostComparison(rows: Row[]): string {
  rows = rows.filter((r) => isHostPhase(r.phase));
  if (rows.length === 0) return "";
  const find = (phase: string, tool = "sv") => rows.find((r) => r.phase.id === phase && r.tool === tool);
  const lines: string[][] = [];
  for (const l of LINES) {
    const row = find(l.phase, l.tool);
    if (!row) continue;
    let cells: string[];
    if (l.ratio) {
      const r = ratioOf(row);
      const v = verdict(row);
      cells = [r === undefined ? "-" : `${r.toFixed(2)}${v ? ` ${v}` : ""}`, "", "", "", ""];
    } else if (l.per) {
      const a = valuesOf(row, l.pick);
      const b = valuesOf(row, l.per);
      cells = [a.length && b.length ? (median(a) / median(b)).toFixed(2) : "-", "", "", "", ""];
    } else if (l.stat !== undefined) {
      const x = row.stats?.[l.stat];
      cells = [typeof x === "number" ? (l.stat.endsWith("Ms") ? `${fmt(x)} ms` : fmt(x)) : "-", "", "", "", ""];
    } else if (l.minus) {
      const others = l.minus.map((t) => valuesOf(find(l.phase, t)));
      const xs = valuesOf(row);
      cells = [xs.length && others.every((o) => o.length) ? `${fmt(median(xs) - others.reduce((a, o) => a + median(o), 0))} ms` : "-", "", "", "", ""];
    } else {
      const xs = valuesOf(row, l.pick);
      const v = !l.pick && l.tool === undefined ? verdict(row) : null;
      cells = xs.length
        ? [`${fmt(median(xs))} ms${v ? ` ${v}` : ""}${row.error ? "*" : ""}`, `${fmt(percentile(xs, 90))} ms`, fmt(Math.min(...xs)), fmt(Math.max(...xs)), String(xs.length)]
        : [row.error ? "FAIL" : "-", "", "", "", ""];
    }
    if (cells[0] === "-" && cells.slice(1).every((c) => c === "")) continue;
    lines.push([l.label, ...cells]);
  }
  return markdownTable(["host measurement", "median", "p90", "min", "max", "runs"], lines, rows);
}
