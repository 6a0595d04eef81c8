import { defineCommand } from "citty";
import { BatchFailure, SvError, UsageError } from "../errors.ts";
import { openContext } from "../engine/context.ts";
import { startServices } from "../engine/start.ts";
import { addressEnv } from "../engine/units.ts";
import { createReporter } from "../output/progress.ts";
import { whyNotRunnable } from "../runtime/spawn.ts";
import { rootArgs } from "./_args.ts";

export default defineCommand({
  meta: {
    name: "exec",
    description: "Bring the --requires services up and healthy, run CMD in the foreground with their addresses (DB_HOST, DB_PORT, DB_ADDR …), exit with its code",
  },
  args: {
    ...rootArgs,
    requires: { type: "string", description: "Services to bring up first, comma-separated", valueHint: "a,b" },
  },
  async run({ args, rawArgs }) {
    const dash = rawArgs.indexOf("--");
    const argv = dash === -1 ? [] : rawArgs.slice(dash + 1);
    if (argv.length === 0) throw new UsageError("sv exec needs a command after --", "e.g. sv exec --requires db -- bun test");
    const names = (args.requires ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const ctx = await openContext({ root: args.root, waitLock: args["wait-lock"] });
    if (names.length > 0) {
      const reporter = await createReporter(process.stderr);
      ctx.reporter = reporter;
      const outcomes = await startServices(ctx, names).finally(() => reporter.close());
      const failed = [...outcomes.values()].filter((o) => !o.ok).length;
      if (failed > 0) throw new BatchFailure(`exec: ${failed} required service${failed === 1 ? "" : "s"} failed; not running ${argv[0]}`);
    }
    const env = { ...process.env, ...addressEnv(ctx, names) };
    // The command is in our process group: the terminal's Ctrl-C reaches it directly; forward the rest.
    // Handlers go in before the spawn: a SIGTERM while it starts must reach it, not kill us and orphan it.
    let child: ReturnType<typeof Bun.spawn> | undefined;
    let pending: NodeJS.Signals | undefined;
    for (const sig of ["SIGTERM", "SIGHUP"] as const) process.on(sig, () => (child ? child.kill(sig) : (pending = sig)));
    process.on("SIGINT", () => {});
    // The shell's codes for a command that cannot run: 127 not found, 126 found but not runnable.
    const why = whyNotRunnable(argv[0]!, process.cwd(), env.PATH);
    if (why !== null) throw new SvError(`cannot run ${argv[0]}: ${why}`, { exitCode: why === "command not found" ? 127 : 126, hint: "check the command after --" });
    try {
      child = Bun.spawn(argv, { env, stdio: ["inherit", "inherit", "inherit"] });
    } catch (e) {
      throw new SvError(`cannot run ${argv[0]}: ${(e as Error).message}`, { exitCode: 126 });
    }
    if (pending) child.kill(pending);
    const code = await child.exited;
    process.exitCode = child.signalCode ? 128 + (require("node:os").constants.signals[child.signalCode] ?? 0) : code;
  },
});
