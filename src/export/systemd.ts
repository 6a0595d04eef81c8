// sv export systemd: one unit per service (a template unit for instances and multi-shot runs), a target for
// the project, depends_on as Requires=/After= with a wait-until-healthy ExecStartPost= step on the dependency.
import { existsSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { commandArgv } from "../config/command.ts";
import type { Project, Service } from "../config/schema.ts";
import { addressVars } from "../engine/units.ts";
import { type ExportResult, Notes, type OutFile } from "./report.ts";
import { bashTest, endpointOf, waitLoop } from "./probes.ts";
import { dependencies, goDuration, kindOf, ownVars, selectServices } from "./select.ts";
import { unmappedCommon } from "./common-notes.ts";

/** A word of an Exec*= line: plain, or double-quoted with systemd's escapes ($ and % doubled: no expansion). */
export function execWord(s: string): string {
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(s)) return s;
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n").replaceAll("$", () => "$$").replaceAll("%", "%%")}"`;
}

/** An Environment= assignment, quoted, with % doubled (systemd expands specifiers there, never $). */
function envLine(key: string, value: string): string {
  return `Environment="${`${key}=${value}`.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n").replaceAll("%", "%%")}"`;
}

/** An absolute program for ExecStart=: a relative path against cwd, a bare name found on PATH (undefined: not found). */
function resolveProgram(program: string, cwd: string, env: Record<string, string | undefined>): string | undefined {
  if (isAbsolute(program)) return program;
  if (program.includes("/")) return resolve(cwd, program);
  for (const dir of (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

/** One Exec line of a command, its program made absolute; a program not found stays bare, with a note. */
function execLine(command: string | string[], cwd: string, env: Record<string, string | undefined>, notes: Notes, key: string): string {
  const [program, ...args] = commandArgv(command);
  const found = resolveProgram(program!, cwd, env);
  if (!found) notes.changed(key, `${program} is not on this machine's PATH: systemd looks for it in its own search path`);
  return [found ?? program!, ...args].map(execWord).join(" ");
}

const seconds = (ms: number) => goDuration(ms);

/** Stands for the instance specifier %i until the line is escaped (every other % is doubled). */
const INSTANCE = "\u0000i";

/** The container engine image services run under: docker, else podman, on this machine. */
function engineBinary(env: Record<string, string | undefined>): string | undefined {
  return resolveProgram("docker", "/", env) ?? resolveProgram("podman", "/", env);
}

export interface SystemdOptions {
  env?: Record<string, string | undefined>;
}

/** Unit files for the named services (default all) and their dependencies. */
export function exportSystemd(project: Project, names: string[], opts: SystemdOptions = {}): ExportResult {
  const env = opts.env ?? process.env;
  const { order, pulledIn } = selectServices(project, names);
  const prefix = `${project.name}-`;
  const files: OutFile[] = [];
  const reports = [];
  const targetWants: string[] = [];
  const exported = new Set<string>();
  /** The unit a dependent names for `dep`: its service, or the target of its instances. */
  const unitFor = (dep: Service) => (dep.instances > 1 && dep.type !== "multi-shot" ? `${prefix}${dep.name}.target` : `${prefix}${dep.name}.service`);

  for (const name of order) {
    const svc = project.services.get(name)!;
    const notes = new Notes(name, pulledIn.has(name));
    reports.push(notes.report);
    if (kindOf(svc) === "remote") {
      notes.skip(svc.remote?.package ? "package" : "host", `runs on host ${svc.remote!.host} over ssh${svc.remote!.package ? " as a deployed package" : ""}: a unit for it belongs on that machine (export from a project where it is local)`);
      continue;
    }
    exported.add(name);
    const template = svc.instances > 1 || svc.type === "multi-shot";
    const unit = template ? `${prefix}${name}@.service` : `${prefix}${name}.service`;
    const u: string[] = ["[Unit]", `Description=${(svc.description || `sv service ${name} of ${project.name}`).replaceAll("%", "%%")}`, `PartOf=${project.name}.target`];
    const deps = dependencies(project, svc);
    const requires: string[] = [];
    const after: string[] = [];
    for (const d of deps) {
      const dep = project.services.get(d.name)!;
      if (!exported.has(d.name)) {
        notes.unmapped(`depends_on.${d.name}`, `${d.name} is not exported (${kindOf(dep) === "remote" ? `it runs on host ${dep.remote!.host}` : "see its lines"}): nothing orders this unit after it`);
        continue;
      }
      if (dep.type === "multi-shot") {
        notes.unmapped(`depends_on.${d.name}`, `${d.name} is multi-shot (a template unit, one run per start): there is no one unit to require`);
        continue;
      }
      requires.push(unitFor(dep));
      after.push(unitFor(dep));
      if (d.condition === "started" && dep.type !== "oneshot" && dep.healthCheck.type !== "process") notes.changed(`depends_on.${d.name}`, `condition started: After= waits for ${d.name}'s whole start job, which includes its wait until healthy`);
      if (d.condition === "completed" && dep.type !== "oneshot") notes.changed(`depends_on.${d.name}`, `condition completed on a ${dep.type} service: systemd cannot wait for it to exit, only for it to start`);
    }
    for (const a of svc.after) if (project.services.has(a) && exported.has(a)) after.push(unitFor(project.services.get(a)!));
    const before = svc.before.filter((b) => project.services.has(b) && order.includes(b) && kindOf(project.services.get(b)!) !== "remote").map((b) => unitFor(project.services.get(b)!));
    if (requires.length) u.push(`Requires=${[...new Set(requires)].join(" ")}`);
    if (after.length) u.push(`After=${[...new Set(after)].join(" ")}`);
    if (before.length) u.push(`Before=${[...new Set(before)].join(" ")}`);
    if (svc.restart !== "no") {
      u.push(`StartLimitIntervalSec=${svc.maxRestarts === 0 ? 0 : "10min"}`);
      if (svc.maxRestarts > 0) u.push(`StartLimitBurst=${svc.maxRestarts + 1}`);
      if (svc.maxRestarts > 0) notes.changed("max_restarts", `systemd gives up after ${svc.maxRestarts + 1} starts within 10 minutes (StartLimitBurst=), not after ${svc.maxRestarts} consecutive failures`);
    }

    const s: string[] = ["[Service]"];
    const oneshot = svc.type === "oneshot" || svc.type === "multi-shot";
    s.push(`Type=${oneshot ? "oneshot" : "simple"}`);
    if (svc.type === "oneshot") s.push("RemainAfterExit=yes");
    const vars: Record<string, string> = { ...svc.env, ...ownVars(svc, 0) };
    if (template) vars.SV_INSTANCE = INSTANCE;
    if (template && svc.port !== undefined && svc.type !== "multi-shot") delete vars.PORT; // per instance, in drop-ins
    for (const d of deps) {
      const dep = project.services.get(d.name)!;
      if (dep.port === undefined || !exported.has(d.name)) continue;
      const viaHost = kindOf(svc) === "image";
      Object.assign(vars, addressVars(d.name, viaHost ? "host.sv.internal" : "127.0.0.1", dep.port));
      if (viaHost) notes.changed(`depends_on.${d.name}`, `the container reaches ${d.name} at host.sv.internal:${dep.port} (the host): ${d.name} must listen on an address containers reach`);
    }
    const image = kindOf(svc) === "image";
    if (!image) {
      for (const [k, v] of Object.entries(vars)) s.push(envLine(k, v).replaceAll(INSTANCE, "%i"));
      s.push(`WorkingDirectory=${svc.cwd}`);
      if (svc.user) s.push(`User=${svc.user}`);
      if (svc.group) s.push(`Group=${svc.group}`);
    }
    if (svc.startDelayMs > 0) s.push(`ExecStartPre=/bin/sleep ${svc.startDelayMs / 1000}`);
    if (svc.hooks.pre_start) s.push(`ExecStartPre=${execLine(svc.hooks.pre_start, svc.cwd || project.root, env, notes, "hooks.pre_start")}`);
    const run = image ? containerExec(project, svc, vars, template, env, notes) : { start: [`ExecStart=${execLine(svc.command, svc.cwd, env, notes, "command")}`], stop: [] };
    s.push(...run.start);
    if (!oneshot && svc.healthCheck.type !== "process") {
      const hc = svc.healthCheck;
      const e = endpointOf(hc);
      const at = e && template && svc.port !== undefined && e.port === svc.port ? { ...e, port: "$PORT" } : e;
      const test = bashTest(hc, at);
      if (typeof test === "string") {
        s.push(`ExecStartPost=/bin/bash -c ${execWord(waitLoop(test, hc.intervalMs))}`);
        notes.changed("health_check", "checked until it first passes while starting (ExecStartPost=); systemd has no periodic check afterwards (its watchdog needs sd_notify from the program)");
      } else notes.unmapped("health_check", `${test.why}: the unit is ready as soon as it starts`);
    }
    if (svc.notifyDelayMs > 0) s.push(`ExecStartPost=/bin/sleep ${svc.notifyDelayMs / 1000}`);
    if (svc.hooks.post_start) s.push(`ExecStartPost=${execLine(svc.hooks.post_start, svc.cwd || project.root, env, notes, "hooks.post_start")}`);
    if (svc.hooks.pre_stop) s.push(`ExecStop=${execLine(svc.hooks.pre_stop, svc.cwd || project.root, env, notes, "hooks.pre_stop")}`);
    s.push(...run.stop);
    if (svc.hooks.post_stop) s.push(`ExecStopPost=${execLine(svc.hooks.post_stop, svc.cwd || project.root, env, notes, "hooks.post_stop")}`);
    s.push(`Restart=${svc.restart}`);
    if (svc.restart !== "no") {
      s.push(`RestartSec=${seconds(svc.restartDelayMs)}`);
      notes.changed("restart_delay", `systemd waits a fixed RestartSec=${seconds(svc.restartDelayMs)} between restarts; sv's doubling up to restart_max_delay (${seconds(svc.restartMaxDelayMs)}) needs RestartSteps= and RestartMaxDelaySec= (systemd 254 or later)`);
    }
    s.push(`TimeoutStartSec=${seconds(svc.startTimeoutMs ?? project.defaultTimeoutMs)}`);
    s.push(`TimeoutStopSec=${seconds(svc.stopTimeoutMs)}`);
    if (!image) {
      s.push(`KillSignal=${svc.stopSignal}`);
      if (svc.limits.nofile) s.push(`LimitNOFILE=${svc.limits.nofile}`);
      if (svc.limits.nproc) s.push(`LimitNPROC=${svc.limits.nproc}`);
      if (svc.limits.memoryBytes) s.push(`MemoryMax=${svc.limits.memoryBytes}`);
    }
    s.push(`SyslogIdentifier=${name}`);

    const commands = svc.onFailure.filter((a): a is { command: string | string[] } => "command" in a);
    for (const [i, a] of svc.onFailure.entries()) if ("webhook" in a) notes.unmapped(`on_failure.${i}`, `webhook ${a.webhook}: systemd has no HTTP action (OnFailure= starts a unit: make one that posts it)`);
    if (commands.length) {
      const failUnit = `${prefix}${name}-on-failure.service`;
      u.push(`OnFailure=${failUnit}`);
      const f = ["[Unit]", `Description=on_failure actions of ${name}`, "", "[Service]", "Type=oneshot", `WorkingDirectory=${svc.cwd || project.root}`];
      for (const [k, v] of Object.entries(svc.env)) f.push(envLine(k, v));
      for (const c of commands) f.push(`ExecStart=${execLine(c.command, svc.cwd || project.root, env, notes, "on_failure")}`);
      files.push({ name: failUnit, text: `${f.join("\n")}\n` });
      notes.as(failUnit);
      notes.changed("on_failure", "its commands run when the unit fails (OnFailure=), not when it turns unhealthy");
    }
    unmappedCommon(svc, notes, "systemd");

    files.push({ name: unit, text: `${[...u, "", ...s].join("\n")}\n` });
    notes.as(unit);
    if (svc.type === "multi-shot") {
      notes.changed("type", `multi-shot: a template unit; each \`systemctl start ${prefix}${name}@ID.service\` is one run`);
      continue;
    }
    if (template) {
      const instances = Array.from({ length: svc.instances }, (_, i) => `${prefix}${name}@${i}.service`);
      // no PartOf= here: a target is ordered after the units it is part of, which would make a cycle with the project's
      const t = ["[Unit]", `Description=the ${svc.instances} instances of ${name}`, `Wants=${instances.join(" ")}`, `After=${instances.join(" ")}`];
      files.push({ name: `${prefix}${name}.target`, text: `${t.join("\n")}\n` });
      notes.as(`${prefix}${name}.target`);
      if (svc.port !== undefined)
        for (let i = 0; i < svc.instances; i++) {
          const dropIn = `${prefix}${name}@${i}.service.d/port.conf`;
          files.push({ name: dropIn, text: `[Service]\n${envLine("PORT", String(svc.port + i))}\n` });
          notes.as(dropIn);
        }
    }
    if (svc.type !== "on-demand") targetWants.push(unitFor(svc));
    else notes.changed("type", "on-demand: left out of the project target; started when named, or by a unit that requires it");
  }

  const target = ["[Unit]", `Description=sv project ${project.name}`, ...(targetWants.length ? [`Wants=${targetWants.join(" ")}`] : []), "", "[Install]", "WantedBy=multi-user.target"];
  files.push({ name: `${project.name}.target`, text: `${target.join("\n")}\n` });
  return { target: "systemd", files, services: reports };
}

/** The Exec lines of an image service: `docker run` in the foreground, removed when it ends, stopped by name. */
function containerExec(project: Project, svc: Service, vars: Record<string, string>, template: boolean, env: Record<string, string | undefined>, notes: Notes): { start: string[]; stop: string[] } {
  const c = svc.container!;
  const engine = engineBinary(env);
  if (!engine) notes.changed("image", "neither docker nor podman is on this machine's PATH: the unit runs /usr/bin/docker");
  const bin = engine ?? "/usr/bin/docker";
  const cname = `${project.name}-${svc.name}${template ? `-${INSTANCE}` : ""}`;
  const args = ["run", "--rm", "--name", cname, `--pull=${c.pull}`, "--add-host=host.sv.internal:host-gateway", `--stop-signal=${svc.stopSignal}`, `--stop-timeout=${Math.ceil(svc.stopTimeoutMs / 1000)}`];
  if (c.networkMode === "host") args.push("--network=host");
  if (c.networkMode === "none") args.push("--network=none");
  for (const p of c.ports) args.push("-p", `${p.hostIp ? `${p.hostIp.includes(":") ? `[${p.hostIp}]` : p.hostIp}:` : ""}${p.hostPort ?? ""}${p.hostPort !== undefined ? ":" : ""}${p.containerPort}/${p.protocol}`);
  if (template && c.ports.some((p) => p.hostPort !== undefined)) notes.changed("instances", "every instance publishes the same host ports (sv adds the instance number): give the template's instances their own ports");
  for (const v of c.volumes) args.push("-v", `${v.kind === "volume" ? `${project.name}_${v.source}` : v.source}:${v.target}${v.readOnly ? ":ro" : ""}`);
  for (const [k, v] of Object.entries(vars)) args.push("-e", `${k}=${v}`);
  if (c.workdir) args.push(`--workdir=${c.workdir}`);
  if (svc.user) args.push(`--user=${svc.user}${svc.group ? `:${svc.group}` : ""}`);
  if (svc.limits.memoryBytes) args.push(`--memory=${svc.limits.memoryBytes}`);
  if (svc.limits.nofile) args.push(`--ulimit=nofile=${svc.limits.nofile}:${svc.limits.nofile}`);
  if (svc.limits.nproc) args.push(`--ulimit=nproc=${svc.limits.nproc}:${svc.limits.nproc}`);
  const [entry, ...entryArgs] = c.entrypoint ?? [];
  if (entry !== undefined) args.push(`--entrypoint=${entry}`);
  args.push(c.image, ...entryArgs, ...(c.command ?? []));
  const line = (argv: string[]) => argv.map((a) => execWord(a).replaceAll(INSTANCE, "%i")).join(" ");
  return {
    start: [`ExecStartPre=-${line([bin, "rm", "-f", cname])}`, `ExecStart=${line([bin, ...args])}`],
    stop: [`ExecStop=${line([bin, "stop", "-t", String(Math.ceil(svc.stopTimeoutMs / 1000)), cname])}`],
  };
}
