// Durations as the source tools write them (Go's "1m30s", compose's "10s", plain seconds) and as sv files show them.

const GO_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go/compose duration ("1m30s", "500ms", "2h") -> milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const s = text.trim();
  if (!/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(s)) return /^\d+$/.test(s) ? Number(s) * 1000 : undefined;
  let ms = 0;
  for (const [, n, , unit] of s.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * GO_UNIT_MS[unit!]!;
  return Math.round(ms);
}

/** Milliseconds as an sv duration: "2h", "5m", "90s", "250ms". */
export function formatMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A number of seconds (as the source wrote it: 5, "5", 0.5) as an sv duration; undefined when it is not one. */
export function fromSeconds(value: unknown): string | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) && n >= 0 ? formatMs(Math.round(n * 1000)) : undefined;
}
