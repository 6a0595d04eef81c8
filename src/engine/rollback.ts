// `sv rollback NAME`: a package service's `current` back to the release before it, then a restart from it.
import { resolveNames } from "../config/project.ts";
import { SvError, UsageError } from "../errors.ts";
import type { Ctx } from "./context.ts";
import type { Outcome } from "./orchestrate.ts";
import { restartServices } from "./restart.ts";

export async function rollbackService(ctx: Ctx, name: string): Promise<{ from: string | null; to: string; outcomes: Map<string, Outcome> }> {
  const [svcName] = resolveNames(ctx.project, [name]);
  const svc = ctx.project.services.get(svcName!)!;
  const backend = ctx.backends.for(svc);
  if (!svc.remote?.package || !backend.rollback) throw new UsageError(`${svc.name} is not a package service`, "only a service with package: and host: has releases to roll back");
  const { from, to } = await backend.rollback(svc);
  if (from === to) throw new SvError(`${svc.name}: release ${to} is already current`);
  return { from, to, outcomes: await restartServices(ctx, [svc.name]) };
}
