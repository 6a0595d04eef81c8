import { defineCommand } from "citty";
import { stopServices } from "../engine/stop.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";
import { runBatch } from "./_run.ts";

export default defineCommand({
  meta: { name: "down", description: "Stop services (default: all) and the services that depend on them, dependents first" },
  args: { ...rootArgs, ...namesArg },
  run: ({ args }) => runBatch(args, "down", (ctx) => stopServices(ctx, positionals(args)), { fromStore: true }),
});
