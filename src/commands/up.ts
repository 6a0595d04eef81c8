import { defineCommand } from "citty";
import { startServices } from "../engine/start.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";
import { runBatch } from "./_run.ts";

export default defineCommand({
  meta: { name: "up", description: "Start services (default: all but on-demand) and their dependencies; wait until ready" },
  args: {
    ...rootArgs,
    ...namesArg,
    recreate: { type: "boolean", default: true, description: "Restart running units whose definition changed", negativeDescription: "Keep running units whose definition changed" },
    "remove-orphans": { type: "boolean", description: "Stop units whose service is gone from the config" },
  },
  run: ({ args }) =>
    runBatch(args, "up", (ctx) => startServices(ctx, positionals(args), { noRecreate: args.recreate === false, removeOrphans: args["remove-orphans"] === true })),
});
