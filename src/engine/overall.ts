// Overall health, one word for a whole project (sv health, GET /health, the last line of sv status):
// healthy when every unit wanted up is ready, down when none is, degraded in between.
import type { UnitStatus } from "./report.ts";

export type OverallStatus = "healthy" | "degraded" | "down";

export interface Overall {
  status: OverallStatus;
  /** Units wanted up, and how many of them are ready. */
  wanted: number;
  ready: number;
  /** Each wanted-up unit that is not ready, and why in a word: its state, or "unhealthy". */
  problems: { unit: string; problem: string }[];
  /** `healthy`, `degraded: db error, api unhealthy`, `down`. */
  line: string;
}

/** Ready: running and not unhealthy (a simple service), or completed (a oneshot). */
function problemOf(r: UnitStatus): string | null {
  if (r.state === "running") return r.health === "unhealthy" ? "unhealthy" : null;
  if (r.state === "completed" && r.type === "oneshot") return null;
  return r.state;
}

/**
 * The overall health of `rows`. With nothing wanted up it is `down`: a project that runs nothing is not
 * healthy to whoever asks (a load balancer, a deploy script). Orphans are not counted: nobody wants them.
 */
export function overallHealth(rows: UnitStatus[]): Overall {
  const wanted = rows.filter((r) => r.wanted === "up" && !r.orphan);
  const problems = wanted.flatMap((r) => {
    const problem = problemOf(r);
    return problem === null ? [] : [{ unit: r.name, problem }];
  });
  const ready = wanted.length - problems.length;
  const status: OverallStatus = wanted.length > 0 && problems.length === 0 ? "healthy" : ready === 0 ? "down" : "degraded";
  const line = status === "degraded" ? `degraded: ${problems.map((p) => `${p.unit} ${p.problem}`).join(", ")}` : status;
  return { status, wanted: wanted.length, ready, problems, line };
}
