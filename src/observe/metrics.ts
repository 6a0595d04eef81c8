// Prometheus text exposition (format 0.0.4) of the store: pure, so `sv metrics` and GET /metrics agree.
import type { Project } from "../config/schema.ts";
import { STATES } from "../engine/states.ts";
import { unitNames } from "../engine/units.ts";
import type { StoreState } from "../store/store.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "gauge" | "counter";

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/**
 * The metric families for the current state. Per-unit series carry `service` (the service name) and
 * `unit` (the name `sv status` shows: `api`; `api.0`, `api.1` … with instances; `job.7` for a multi-shot run).
 */
export function collectMetrics(project: Project, state: StoreState, now = Date.now()): MetricFamily[] {
  const family = (name: string, type: MetricType, help: string): MetricFamily => ({ name, help, type, samples: [] });
  const up = family("sv_service_up", "gauge", "1 if the unit is running, else 0.");
  const healthy = family("sv_service_healthy", "gauge", "1 if the unit's last health check passed, else 0.");
  const wanted = family("sv_service_wanted_up", "gauge", "1 if the unit is wanted up (sv up), 0 if wanted down.");
  const restarts = family("sv_service_restarts_total", "counter", "Restarts of the unit by its restart policy.");
  const uptime = family("sv_service_uptime_seconds", "gauge", "Seconds since the unit's process was started; 0 when it is not up.");
  const startDuration = family("sv_service_start_duration_seconds", "gauge", "Seconds its last start took, from spawn to ready (absent before the first start).");
  const byState = family("sv_services", "gauge", "Number of units in each state.");

  const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
  for (const svc of project.services.values()) {
    for (const unitName of unitNames(svc, state)) {
      const u = state.units[unitName];
      const labels = { service: svc.name, unit: unitName };
      const st = u?.state ?? "stopped";
      const isUp = st === "running" || st === "starting";
      counts.set(st, (counts.get(st) ?? 0) + 1);
      up.samples.push({ labels, value: st === "running" ? 1 : 0 });
      healthy.samples.push({ labels, value: u?.health === "healthy" ? 1 : 0 });
      wanted.samples.push({ labels, value: u?.wanted === "up" ? 1 : 0 });
      restarts.samples.push({ labels, value: u?.restarts ?? 0 });
      uptime.samples.push({ labels, value: isUp && u?.started_at ? Math.max(0, (now - Date.parse(u.started_at)) / 1000) : 0 });
      if (u?.start_duration_s != null) startDuration.samples.push({ labels, value: u.start_duration_s });
    }
  }
  byState.samples = [...counts].map(([s, n]) => ({ labels: { state: s }, value: n }));
  return [up, healthy, wanted, restarts, uptime, startDuration, byState];
}

/** The exposition text of `sv metrics` and GET /metrics. */
export function renderMetrics(project: Project, state: StoreState, now = Date.now()): string {
  return formatExposition(collectMetrics(project, state, now));
}

/** Families -> text format 0.0.4: HELP and TYPE once per family, then its samples; ends with a newline. */
export function formatExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
      lines.push(`${f.name}${labels.length ? `{${labels.join(",")}}` : ""} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
