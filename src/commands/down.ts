import { defineCommand } from "citty";
import { type Ctx } from "../engine/context.ts";
import { stopServices, teardownProject } from "../engine/stop.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";
import { runBatch } from "./_run.ts";

async function down(ctx: Ctx, names: string[], volumes: boolean) {
  const outcomes = await stopServices(ctx, names);
  // The whole project is down: what its units shared goes too (a container network; volumes if asked).
  if (names.length === 0 && [...outcomes.values()].every((o) => o.ok)) await teardownProject(ctx, { volumes });
  return outcomes;
}

export default defineCommand({
  meta: { name: "down", description: "Stop services (default: all) and the services that depend on them, dependents first" },
  args: {
    ...rootArgs,
    ...namesArg,
    volumes: { type: "boolean", description: "With the whole project: also remove its containers' named volumes (kept otherwise)" },
  },
  run: ({ args }) => runBatch(args, "down", (ctx) => down(ctx, positionals(args), args.volumes === true), { fromStore: true }),
});
