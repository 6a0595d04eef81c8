// What an export says about each service: what it became, what could not be mapped and why, and what was
// mapped only approximately. Nothing is ever dropped without a line here.

export type Target = "systemd" | "compose" | "kubernetes";

/** One remark about a key of a service's definition. */
export interface Note {
  /** The definition key it is about (`depends_on.db`, `restart_delay`, `instances` …). */
  key: string;
  message: string;
}

export interface ServiceReport {
  name: string;
  /** False: nothing of it is in the output (see `unmapped`). */
  exported: boolean;
  /** The objects it became: unit files, compose services, Kubernetes kinds/names. */
  as: string[];
  /** Keys with no equivalent in the target: left out, with the reason. */
  unmapped: Note[];
  /** Keys mapped to the nearest thing the target has, which behaves differently: how. */
  changed: Note[];
  /** Included only because a named service depends on it. */
  pulledIn?: boolean;
}

/** A file of the export: its name inside --out, and its text. */
export interface OutFile {
  name: string;
  text: string;
}

export interface ExportResult {
  target: Target;
  files: OutFile[];
  services: ServiceReport[];
}

/** The report of one service, filled in while it is exported. */
export class Notes {
  readonly report: ServiceReport;
  constructor(name: string, pulledIn: boolean) {
    this.report = { name, exported: true, as: [], unmapped: [], changed: [], ...(pulledIn ? { pulledIn } : {}) };
  }
  unmapped(key: string, message: string): void {
    if (!this.report.unmapped.some((n) => n.key === key && n.message === message)) this.report.unmapped.push({ key, message });
  }
  changed(key: string, message: string): void {
    if (!this.report.changed.some((n) => n.key === key && n.message === message)) this.report.changed.push({ key, message });
  }
  as(what: string): void {
    if (!this.report.as.includes(what)) this.report.as.push(what);
  }
  /** Not exported at all: the whole service, and why. */
  skip(key: string, message: string): void {
    this.report.exported = false;
    this.unmapped(key, message);
  }
}
