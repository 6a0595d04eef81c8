import { defineCommand } from "citty";
import { startServices } from "../engine/start.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";
import { runBatch } from "./_run.ts";

export default defineCommand({
  meta: { name: "up", description: "Start services (default: all but on-demand) and their dependencies; wait until ready" },
  args: { ...rootArgs, ...namesArg },
  run: ({ args }) => runBatch(args, "up", (ctx) => startServices(ctx, positionals(args))),
});
