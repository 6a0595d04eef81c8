// Lifecycle hooks (pre_start, post_start, pre_stop, post_stop) and on_failure actions.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { HookName, Service } from "../config/schema.ts";
import { logFile } from "../paths.ts";
import { commandArgv } from "../runtime/spawn.ts";
import type { SvEvent } from "./states.ts";
import type { Ctx } from "./context.ts";
import { instanceOf, unitEnv } from "./units.ts";

/** The full environment a unit's processes (service, hooks, probes) get. */
export function processEnv(ctx: Ctx, svc: Service, unitName: string): Record<string, string | undefined> {
  return { ...process.env, ...svc.env, ...unitEnv(ctx.project, svc, instanceOf(unitName)) };
}

/** Run a command to completion with output appended to the unit's log; null when it exits 0, else why not. */
async function runLogged(ctx: Ctx, svc: Service, unitName: string, command: string | string[], timeoutMs: number, extraEnv: Record<string, string> = {}) {
  const log = logFile(ctx.paths, unitName);
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, "a");
  try {
    const proc = Bun.spawn(commandArgv(command), {
      cwd: svc.cwd,
      env: { ...processEnv(ctx, svc, unitName), ...extraEnv },
      stdio: ["ignore", fd, fd],
      timeout: timeoutMs,
      killSignal: "SIGKILL",
    });
    const code = await proc.exited;
    if (proc.signalCode === "SIGKILL") return `did not finish within ${timeoutMs} ms and was killed`;
    return code === 0 ? null : `exited with code ${code}`;
  } catch (e) {
    return `could not run: ${(e as Error).message}`;
  } finally {
    closeSync(fd);
  }
}

/** Run `svc`'s `hook` if it has one; null on success, else a message like "pre_start hook exited with code 1". */
export async function runHook(ctx: Ctx, svc: Service, unitName: string, hook: HookName): Promise<string | null> {
  const command = svc.hooks[hook];
  if (command === undefined) return null;
  const timeoutMs = hook.endsWith("stop") ? svc.stopTimeoutMs : ctx.project.defaultTimeoutMs;
  const why = await runLogged(ctx, svc, unitName, command, timeoutMs, { SV_HOOK: hook });
  return why && `${hook} hook ${why}`;
}

/** Events that call for the on_failure actions: giving up, turning unhealthy, or an error nobody will restart. */
export function isFailureEvent(ctx: Ctx, e: SvEvent, service: string): boolean {
  if (e.from === e.to) return e.reason.startsWith("gave up") || e.reason.startsWith("unhealthy:");
  return e.to === "error" && ctx.project.services.get(service)?.restart === "no";
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
