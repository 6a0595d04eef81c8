import { defineCommand } from "citty";
import type { Project, Service } from "../config/schema.ts";
import { openContext } from "../engine/context.ts";
import { output } from "../output/style.ts";
import { renderTable } from "../output/table.ts";
import { rootArgs } from "./_args.ts";

function commandText(cmd: string | string[]): string {
  return typeof cmd === "string" ? cmd : cmd.map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

function dependsText(svc: Service): string {
  return Object.entries(svc.dependsOn)
    .map(([d, c]) => (c ? `${d} (${c})` : d))
    .join(", ");
}

/** The dependency tree: roots are services nothing depends on; children are dependencies. */
export function renderTree(project: Project): string {
  const dependedOn = new Set([...project.services.values()].flatMap((s) => Object.keys(s.dependsOn)));
  const lines: string[] = [];
  const walk = (name: string, prefix: string, last: boolean, depth: number, seen: Set<string>) => {
    const svc = project.services.get(name)!;
    const label = `${name}${svc.type === "simple" ? "" : ` (${svc.type})`}`;
    lines.push(depth === 0 ? label : `${prefix}${last ? "└─ " : "├─ "}${label}`);
    const deps = Object.keys(svc.dependsOn);
    const childPrefix = depth === 0 ? "" : prefix + (last ? "   " : "│  ");
    deps.forEach((d, i) => {
      if (seen.has(d)) return;
      walk(d, childPrefix, i === deps.length - 1, depth + 1, new Set([...seen, d]));
    });
  };
  for (const name of project.services.keys()) if (!dependedOn.has(name)) walk(name, "", true, 0, new Set([name]));
  return lines.join("\n");
}

export default defineCommand({
  meta: { name: "list", description: "List the service definitions, or (--tree) their dependency tree" },
  args: { ...rootArgs, tree: { type: "boolean", description: "Show the dependency tree" } },
  async run({ args }) {
    const ctx = await openContext({ root: args.root });
    const services = [...ctx.project.services.values()];
    if (output.json) {
      console.log(
        JSON.stringify({
          services: services.map((s) => ({ name: s.name, type: s.type, description: s.description, command: s.command, port: s.port ?? null, depends_on: s.dependsOn, instances: s.instances, ...(s.container ? { image: s.container.image } : {}), ...(s.remote ? { host: s.remote.host } : {}), ...(s.remote?.package ? { package: s.remote.package.file, release: s.remote.package.release } : {}) })),
        }),
      );
    } else if (args.tree) console.log(renderTree(ctx.project));
    else {
      console.log(
        renderTable(
          [{ header: "NAME" }, { header: "TYPE" }, { header: "PORT", align: "right" }, { header: "DEPENDS ON" }, { header: "COMMAND" }],
          services.map((s) => [s.name, s.type, s.port === undefined ? "-" : String(s.port), dependsText(s) || "-", s.container ? `${s.container.image}${s.container.command ? `: ${commandText(s.container.command)}` : ""}` : remoteText(s) + commandText(s.command)]),
        ),
      );
    }
  },
});

/** Where a remote service runs (and the release a package service deploys), before its command. */
function remoteText(s: Service): string {
  if (!s.remote) return "";
  return `${s.remote.host}${s.remote.package ? ` (${s.remote.package.release})` : ""}: `;
}
