import { defineCommand } from "citty";
import { restartServices } from "../engine/restart.ts";
import { namesArg, positionals, rootArgs } from "./_args.ts";
import { runBatch } from "./_run.ts";

export default defineCommand({
  meta: { name: "restart", description: "Stop services and their dependents, then start them again" },
  args: { ...rootArgs, ...namesArg },
  run: ({ args }) => runBatch(args, "restart", (ctx) => restartServices(ctx, positionals(args))),
});
