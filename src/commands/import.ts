import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { SvError, UsageError } from "../errors.ts";
import { FORMATS, commitWrites, formatOf, formatUnmapped, planImport, type Planned } from "../import/index.ts";
import { writeRecord } from "../output/logger.ts";
import { output } from "../output/style.ts";
import { rootArgs } from "./_args.ts";

/** The project to write into: --out (a root, or its services/ dir), else --root / SV_ROOT, the nearest project, or the working directory. */
function targetRoot(cwd: string, out: string | undefined, root: string | undefined): string {
  if (out) {
    const dir = resolve(cwd, out);
    return basename(dir) === "services" ? dirname(dir) : dir;
  }
  if (root) return resolve(cwd, root);
  for (let dir = cwd; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "sv.yml")) || existsSync(join(dir, "services"))) return dir;
    if (dirname(dir) === dir) return cwd;
  }
}

const LABEL: Record<Planned["state"], string> = { created: "created", updated: "overwritten", unchanged: "unchanged", exists: "exists" };

export default defineCommand({
  meta: { name: "import", description: "Write services/*.yml from a docker-compose.yml, process-compose.yaml, Procfile or supervisord.conf, and list what did not map" },
  args: {
    ...rootArgs,
    format: { type: "positional", required: false, description: `The format: ${Object.keys(FORMATS).join(", ")}`, valueHint: "format" },
    file: { type: "positional", required: false, description: "The file to import", valueHint: "file" },
    out: { type: "string", description: "The project to write into: its root, or its services/ dir (default: this project, else the working directory)", valueHint: "dir" },
    force: { type: "boolean", description: "Overwrite service files that exist (none is written otherwise)" },
  },
  async run({ args }) {
    const cwd = process.cwd();
    const format = formatOf(args.format);
    if (args._.length > 2) throw new UsageError(`sv import takes one file (got ${args._.length - 1})`, `import each file on its own: sv import ${format} FILE`);
    if (!args.file) throw new UsageError(`sv import ${format} needs a file`, `e.g. sv import ${format} ${{ compose: "docker-compose.yml", "process-compose": "process-compose.yaml", procfile: "Procfile", supervisord: "/etc/supervisor/supervisord.conf" }[format]}`);
    const root = targetRoot(cwd, args.out, args.root || process.env.SV_ROOT || undefined);
    const plan = planImport({ format, file: args.file, root, cwd, force: Boolean(args.force) });
    const blocked = plan.plans.filter((p) => p.state === "exists");
    if (!output.quiet) for (const u of plan.unmapped) output.logFormat === "json" ? writeRecord("warn", formatUnmapped(u), u.service ? { service: u.service } : {}) : process.stderr.write(`${formatUnmapped(u)}\n`);
    const shown = (p: string) => relative(cwd, p) || p;
    if (blocked.length) {
      if (output.json) console.log(JSON.stringify({ ok: false, format, source: plan.source, root: plan.root, exists: blocked.map((p) => p.path), unmapped: plan.unmapped }));
      for (const p of blocked) process.stderr.write(`${shown(p.path)} exists (and differs from what the import would write)\n`);
      throw new SvError(`${blocked.length === 1 ? "1 service file exists" : `${blocked.length} service files exist`}: nothing was written`, { hint: "rerun with --force to overwrite them, or import into another project with --out DIR" });
    }
    commitWrites(plan.servicesDir, plan.plans);
    if (output.json) {
      console.log(JSON.stringify({ ok: true, format, source: plan.source, root: plan.root, services: plan.plans.map((p) => ({ name: p.name, file: p.path, state: p.state })), unmapped: plan.unmapped }));
      return;
    }
    if (output.quiet) return;
    for (const p of plan.plans) console.log(`${p.state === "unchanged" ? "=" : "✓"} ${shown(p.path)} ${LABEL[p.state]}`);
    const n = plan.plans.length;
    const u = plan.unmapped.length;
    console.log(`${n} service${n === 1 ? "" : "s"} from ${plan.source}${u ? `; ${u} key${u === 1 ? "" : "s"} not mapped (listed on stderr and in each file's header)` : ""}`);
  },
});
