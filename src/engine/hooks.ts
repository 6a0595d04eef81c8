// Lifecycle hooks (pre_start, post_start, pre_stop, post_stop) and on_failure actions, run where the
// service runs (its backend's exec).
import { commandArgv } from "../config/command.ts";
import type { HookName, Service } from "../config/schema.ts";
import type { ExecRequest } from "../backends/backend.ts";
import type { RunCommand } from "../probes/index.ts";
import type { SvEvent } from "./states.ts";
import type { Ctx } from "./context.ts";
import { instanceOf, unitEnv } from "./units.ts";

/** The full environment a unit's processes (service, hooks, probes) get. */
export function processEnv(ctx: Ctx, svc: Service, unitName: string): Record<string, string | undefined> {
  return { ...ctx.inheritedEnv, ...svc.env, ...unitEnv(ctx, svc, instanceOf(unitName)) };
}

/** The environment of a command run for a unit: sv's additions (with `extra`) apart, and everything. */
function execEnv(ctx: Ctx, svc: Service, unitName: string, extra: Record<string, string> = {}): Pick<ExecRequest, "env" | "added"> {
  const added = { ...unitEnv(ctx, svc, instanceOf(unitName)), ...extra };
  return { env: { ...ctx.inheritedEnv, ...svc.env, ...added }, added };
}

/** Run a command to completion with output appended to the unit's log; null when it exits 0, else why not. */
async function runLogged(ctx: Ctx, svc: Service, unitName: string, command: string | string[], timeoutMs: number, extraEnv: Record<string, string> = {}) {
  const r = await ctx.backends.for(svc).exec({
    unit: unitName,
    svc,
    argv: commandArgv(command),
    ...execEnv(ctx, svc, unitName, extraEnv),
    timeoutMs,
    output: "log",
  });
  if (r.error) return `could not run: ${r.error}`;
  if (r.timedOut) return `did not finish within ${timeoutMs} ms and was killed`;
  if (r.signal) return `was killed by ${r.signal}`;
  return r.code === 0 ? null : `exited with code ${r.code}`;
}

/** A command runner for a unit's command health checks: in its environment, where it runs. */
export function probeRunner(ctx: Ctx, svc: Service, unitName: string): RunCommand {
  return (argv, timeoutMs) => ctx.backends.for(svc).exec({ unit: unitName, svc, argv, ...execEnv(ctx, svc, unitName), timeoutMs, output: "capture" });
}

/** Run `svc`'s `hook` if it has one; null on success, else a message like "pre_start hook exited with code 1". */
export async function runHook(ctx: Ctx, svc: Service, unitName: string, hook: HookName): Promise<string | null> {
  const command = svc.hooks[hook];
  if (command === undefined) return null;
  const timeoutMs = hook.endsWith("stop") ? svc.stopTimeoutMs : ctx.project.defaultTimeoutMs;
  const why = await runLogged(ctx, svc, unitName, command, timeoutMs, { SV_HOOK: hook });
  return why && `${hook} hook ${why}`;
}

/** Events that call for the on_failure actions: turning unhealthy, or entering error (sv gave up, or no restart). */
export function isFailureEvent(_ctx: Ctx, e: SvEvent, _service: string): boolean {
  if (e.from === e.to) return e.reason.startsWith("unhealthy:");
  return e.to === "error";
}

/** Fire `svc`'s on_failure actions for `event`: webhooks get a JSON POST, commands get SV_EVENT. */
export async function fireFailureActions(ctx: Ctx, svc: Service, event: SvEvent): Promise<string[]> {
  const problems: string[] = [];
  const payload = { service: svc.name, unit: event.service, event, project: ctx.project.root };
  await Promise.all(
    svc.onFailure.map(async (action) => {
      if ("webhook" in action) {
        const { ofetch } = await import("ofetch");
        await ofetch(action.webhook, { method: "POST", body: payload, retry: 1, timeout: 5000 }).catch((e: Error) =>
          problems.push(`${svc.name}: on_failure webhook ${action.webhook} failed: ${e.message}`),
        );
      } else {
        const why = await runLogged(ctx, svc, event.service, action.command, 30_000, { SV_EVENT: JSON.stringify(event) });
        if (why) problems.push(`${svc.name}: on_failure command ${why}`);
      }
    }),
  );
  return problems;
}
