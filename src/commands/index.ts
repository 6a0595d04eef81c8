// Command name -> lazy loader. Literal import paths: bun build --compile must see them to bundle them.
import type { CommandDef } from "citty";

type Loader = () => Promise<CommandDef<any>>;

export const commands: Record<string, Loader> = {
  up: () => import("./up.ts").then((m) => m.default),
  down: () => import("./down.ts").then((m) => m.default),
  restart: () => import("./restart.ts").then((m) => m.default),
  status: () => import("./status.ts").then((m) => m.default),
  health: () => import("./health.ts").then((m) => m.default),
  logs: () => import("./logs.ts").then((m) => m.default),
  list: () => import("./list.ts").then((m) => m.default),
  validate: () => import("./validate.ts").then((m) => m.default),
  reconcile: () => import("./reconcile.ts").then((m) => m.default),
  watch: () => import("./watch.ts").then((m) => m.default),
  exec: () => import("./exec.ts").then((m) => m.default),
  events: () => import("./events.ts").then((m) => m.default),
  metrics: () => import("./metrics.ts").then((m) => m.default),
  completion: () => import("./completion.ts").then((m) => m.default),
  hosts: () => import("./hosts.ts").then((m) => m.default),
  rollback: () => import("./rollback.ts").then((m) => m.default),
  export: () => import("./export.ts").then((m) => m.default),
  init: () => import("./init.ts").then((m) => m.default),
  import: () => import("./import.ts").then((m) => m.default),
};

export const aliases: Record<string, string> = { start: "up", stop: "down", ps: "status" };

export const descriptions: Record<string, string> = {
  up: "Start services and their dependencies, in order (alias: start)",
  down: "Stop services and their dependents (alias: stop)",
  restart: "Stop then start services",
  status: "Observe and show the state of services (alias: ps)",
  health: "One line of overall health; exit 0 only when every wanted-up service is ready",
  logs: "Print or follow service logs",
  list: "List service definitions (--tree: the dependency tree)",
  validate: "Check all configuration, start nothing",
  reconcile: "One watchdog pass: find dead processes, apply restart policies (for cron)",
  watch: "Reconcile continuously with a live table; --listen serves the HTTP API and /metrics",
  exec: "Bring --requires services up, run a command with their addresses, exit with its code",
  events: "Print (-f: follow) the state transition log",
  metrics: "Print Prometheus metrics for the current state",
  completion: "Print a shell completion script (bash, zsh, fish)",
  hosts: "The declared hosts, whether they answer (trust NAME: record a host's key)",
  rollback: "Switch a package service back to its previous release, and restart it",
  export: "The project as systemd units, a compose file or Kubernetes manifests, and what could not be mapped",
  init: "A container's entrypoint: PID 1 or a subreaper; up, supervise in the foreground, stop in order on SIGTERM",
  import: "Write services/*.yml from a compose, process-compose, Procfile or supervisord file; list what did not map",
};
