import { defineCommand } from "citty";
import { relative } from "node:path";
import { loadProject } from "../config/load.ts";
import { exportProject, oneDocument, reportLines, targetOf, writeFiles } from "../export/index.ts";
import { output } from "../output/style.ts";
import { findRoot } from "../paths.ts";
import { positionals, rootArgs } from "./_args.ts";

export default defineCommand({
  meta: { name: "export", description: "Write the project as systemd units, a compose file or Kubernetes manifests, and say what could not be mapped" },
  args: {
    ...rootArgs,
    target: { type: "positional", required: false, description: "systemd, compose or kubernetes", valueHint: "target" },
    out: { type: "string", description: "Write the files into this directory (default: print one document on stdout)", valueHint: "dir" },
    force: { type: "boolean", description: "Overwrite files in --out that differ" },
    image: { type: "string", description: "compose, kubernetes: the base image process services run in (the project is mounted at its own path)", valueHint: "image" },
    "wait-image": { type: "string", description: "kubernetes: the image of the initContainers that wait for dependencies (sh, nc, wget; default busybox:1.36)", valueHint: "image" },
    swarm: { type: "boolean", description: "compose: a stack file for docker stack deploy (depends_on as a list, deploy.restart_policy, host-mode ports, dnsrr)" },
  },
  async run({ args }) {
    const [, ...names] = positionals(args);
    const target = targetOf(args.target);
    const root = findRoot(process.cwd(), args.root || process.env.SV_ROOT || undefined);
    const project = await loadProject(root);
    const result = exportProject(project, target, names, { image: args.image, waitImage: args["wait-image"], swarm: args.swarm });
    const written = args.out ? writeFiles(args.out, result.files, Boolean(args.force)) : undefined;
    if (output.json) {
      console.log(JSON.stringify({ target, root, ...(written ? { files: written } : { document: oneDocument(result) }), services: result.services }));
    } else if (!written) process.stdout.write(oneDocument(result));
    if (output.quiet || output.json) return;
    for (const r of result.services) process.stderr.write(`${reportLines(r).join("\n")}\n`);
    if (written) for (const w of written) process.stderr.write(`${w.state === "unchanged" ? "=" : "✓"} ${relative(process.cwd(), w.path) || w.path} ${w.state}\n`);
  },
});
