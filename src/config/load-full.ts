// The full load, what the user wrote -> a validated Project: find files -> parse -> includes -> interpolate -> validate.
// A valid config uses only Bun.YAML and valibot; the `yaml` package, which knows line and column, is imported only to
// place problems, or under `strict` (sv validate) to find duplicate keys. load.ts skips all of this when the cache holds.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import * as v from "valibot";
import { defaultProjectName, parseDockerHost } from "./container.ts";
import { ConfigError } from "../errors.ts";
import { Inputs } from "./inputs.ts";
import { type Env, interpolate, variablesIn } from "./interpolate.ts";
import { isRecord } from "./kinds.ts";
import { type Scope, toApiSettings, toService } from "./normalize.ts";
import { type Positions, type Problem, type Seg, displayName, formatProblems, issuesToProblems, positionsOf } from "./problems.ts";
import { NAME_PATTERN, type Project, type Refs, RefsSchema, type Service, IncludeSchema, ServiceSchema, SettingsSchema, type Settings, badName } from "./schema.ts";
import { Reader, type Source, checkMapping, inlineSources, readIncludes, readServiceFiles } from "./sources.ts";
import { type Referrer, validateProject } from "./validate.ts";
import { hostProblems } from "./validate-hosts.ts";
import { type HostSpec, HostsSchema, NetworksSchema, toHost, parseSubnet } from "./hosts.ts";
import { withManifest } from "./package-service.ts";

/**
 * Load and validate every definition of the project at `root`; throws a ConfigError listing every problem. `strict`
 * also checks what the fast parser cannot see (duplicate keys). Returns what was read too, the key of the cache.
 */
export async function loadFull(root: string, environment: Env, opts: { strict?: boolean } = {}): Promise<{ project: Project; inputs: Inputs }> {
  const inputs = new Inputs();
  const env = inputs.track(environment);
  const reader = new Reader(inputs);
  const settingsFile = join(root, "sv.yml");
  const { settings, inline, secretEnv, unsure } = readSettings(settingsFile, env, reader);
  const sources = [...inline, ...readServiceFiles(root, reader), ...(await readIncludes(root, settings.include, settingsFile, reader))];
  const { services, referrers, defined } = buildServices(root, sources, { env, inputs, problems: reader.problems });
  // SV_STATE_DIR wins over sv.yml: a container with a read-only root puts the state on a tmpfs.
  const stateDir = resolve(root, env.SV_STATE_DIR || settings.state_dir);
  const name = settings.name ?? defaultProjectName(root);
  const hosts = new Map<string, HostSpec>(Object.entries(settings.hosts).map(([h, raw]) => [h, toHost(h, raw, root, stateDir, name)]));
  const networks = new Map(Object.entries(settings.networks).map(([n, net]) => [n, parseSubnet(net.subnet)!]));
  // A service on a host whose entry is broken, or a network whose subnet is: that entry's problem is reported, and
  // judging the service against what is missing would only add wrong ones ("unknown host", "share no network").
  const judged = new Map([...services].filter(([, s]) => s.remote === undefined || !(unsure.allHosts || unsure.hosts.has(s.remote.host))));
  reader.problems.push(...validateProject(services, referrers, defined), ...hostProblems(judged, hosts, unsure.networks ? new Map() : networks, settingsFile));
  const positions = positionsOf(reader.texts);
  await reportDuplicateKeys(reader, positions, opts.strict === true);
  if (reader.problems.length > 0) throw new ConfigError(await formatProblems(root, reader.problems, reader.texts, positions));
  const project: Project = {
    root,
    stateDir,
    maxParallel: settings.max_parallel,
    defaultTimeoutMs: settings.default_timeout,
    services,
    api: toApiSettings(root, settings.api, secretEnv),
    name,
    dockerSocket: settings.docker.host === undefined ? undefined : (parseDockerHost(settings.docker.host, root) as { socket: string }).socket,
    plugins: settings.plugins.map((p) => (p.startsWith(".") || p.startsWith("/") ? resolve(root, p) : p)),
    hosts,
    networks,
  };
  return { project, inputs };
}

const DEFAULT_SETTINGS: Settings = v.parse(SettingsSchema, {});

/** sv.yml: the settings (defaults where they are wrong) and its inline services, which are checked one by one. */
function readSettings(file: string, env: Env, reader: Reader): { settings: Settings; inline: Source[]; secretEnv: string[]; unsure: Unsure } {
  const sure: Unsure = { hosts: new Set(), allHosts: false, networks: false };
  if (!existsSync(file)) {
    reader.inputs.files.set(file, null);
    return { settings: DEFAULT_SETTINGS, inline: [], secretEnv: [], unsure: sure };
  }
  const data = reader.read(file) ?? {};
  if (!checkMapping(reader, file, data, "a mapping of settings like services: ...")) return { settings: DEFAULT_SETTINGS, inline: [], secretEnv: [], unsure: { ...sure, allHosts: true } };
  const { services, ...rest } = data;
  const { expanded, result } = expandAndCheck(SettingsSchema, rest, env, { file, prefix: [] }, reader.problems);
  const inline = isRecord(services) ? inlineSources(file, services) : [];
  if (services !== undefined && services !== null && !isRecord(services)) {
    reader.problems.push({ file, path: ["services"], message: "must be a mapping of name -> service definition" });
  }
  const secretEnv = variablesIn(rest.api);
  if (result.success) return { settings: result.output, inline, secretEnv, unsure: sure };
  // Keep what is right: a bad max_parallel should not hide the services that include: brings in, nor the hosts.
  const include = v.safeParse(IncludeSchema, isRecord(result.output) ? result.output.include : undefined);
  const given = isRecord(expanded) ? expanded : {};
  const hosts = salvage(HostsSchema, given.hosts);
  const networks = salvage(NetworksSchema, given.networks);
  const unsure: Unsure = { hosts: hosts.broken, allHosts: !hosts.readable, networks: networks.broken.size > 0 || !networks.readable };
  return { settings: { ...DEFAULT_SETTINGS, include: include.success ? include.output : [], hosts: hosts.valid, networks: networks.valid }, inline, secretEnv, unsure };
}

/** What of sv.yml's hosts: and networks: could not be read (its problems are reported), so is not judged against. */
interface Unsure {
  /** Hosts whose entry is broken. */
  hosts: Set<string>;
  /** hosts: is not a mapping at all: no name in it is known. */
  allHosts: boolean;
  /** A network's entry is broken (or networks: is not a mapping). */
  networks: boolean;
}

/** The entries of a mapping (`hosts:`, `networks:`) that are valid each on its own, and the names of those that are not. */
function salvage<T extends v.GenericSchema>(schema: T, value: unknown): { valid: v.InferOutput<T>; broken: Set<string>; readable: boolean } {
  const valid: Record<string, unknown> = {};
  const broken = new Set<string>();
  if (value === undefined) return { valid: valid as v.InferOutput<T>, broken, readable: true };
  if (!isRecord(value)) return { valid: valid as v.InferOutput<T>, broken, readable: false };
  for (const [name, entry] of Object.entries(value)) {
    const one = v.safeParse(schema, { [name]: entry });
    if (one.success) Object.assign(valid, one.output);
    else broken.add(name);
  }
  return { valid: valid as v.InferOutput<T>, broken, readable: true };
}

/**
 * Expand ${VAR}s in `data` and validate it. A value whose expansion failed is reported once, for the variable: not
 * again for the empty string it became.
 */
function expandAndCheck<T extends v.GenericSchema>(schema: T, data: unknown, env: Env, where: { file: string; prefix: Seg[] }, problems: Problem[]) {
  const expansionProblems: Problem[] = [];
  const report = (path: Seg[], message: string) => expansionProblems.push({ file: where.file, path: [...where.prefix, ...path], message });
  const expanded = interpolate(data, env, report);
  const result = v.safeParse(schema, expanded);
  const related = (a: Seg[], b: Seg[]) => a.every((seg, i) => i >= b.length || seg === b[i]);
  const echoes = (p: Problem) => expansionProblems.some((e) => related(e.path, p.path));
  problems.push(...expansionProblems, ...(result.success ? [] : issuesToProblems(where.file, where.prefix, result.issues).filter((p) => !echoes(p))));
  return { expanded, result };
}

/** Validate and normalise every source; also returns what each definition refers to, and every name defined. */
function buildServices(root: string, sources: Source[], scope: Scope) {
  const { env, problems } = scope;
  const services = new Map<string, Service>();
  const referrers = new Map<string, Referrer>();
  const definedIn = new Map<string, string>();
  for (const src of sources) {
    const { expanded: data, result } = expandAndCheck(ServiceSchema, withManifest(src.data, root, src, scope.inputs, problems), env, src, problems);
    const name = nameOf(src, data, problems);
    if (name === undefined) continue;
    const other = definedIn.get(name);
    if (other !== undefined) {
      const where = isRecord(data) && "name" in data ? { path: [...src.prefix, "name"] } : { path: src.prefix, atKey: true };
      problems.push({ file: src.file, ...where, message: `service "${name}" is already defined in ${displayName(root, other)}` });
      continue;
    }
    definedIn.set(name, src.file);
    const refs = result.success ? result : v.safeParse(RefsSchema, data);
    if (refs.success) referrers.set(name, { ...pickRefs(refs.output), file: src.file, prefix: src.prefix });
    if (result.success) services.set(name, toService(root, { name, file: src.file, prefix: src.prefix }, result.output, scope));
  }
  return { services, referrers, defined: new Set(definedIn.keys()) };
}

const pickRefs = ({ depends_on, after, before }: Refs): Refs => ({ depends_on, after, before });

/** The name of a definition: its key in a `services:` map, else `name:` when given, else the file stem. */
function nameOf(src: Source, data: unknown, problems: Problem[]): string | undefined {
  const written = isRecord(data) && typeof data.name === "string" ? data.name : undefined;
  const keyed = src.prefix.length > 0;
  if (keyed && written !== undefined && written !== src.name && NAME_PATTERN.test(written)) {
    problems.push({ file: src.file, path: [...src.prefix, "name"], message: `must be "${src.name}", the key it is defined under (or left out)` });
  }
  if (!keyed && written !== undefined) return NAME_PATTERN.test(written) ? written : undefined; // the schema reports a bad name:
  if (NAME_PATTERN.test(src.name)) return src.name;
  problems.push({ file: src.file, path: src.prefix, atKey: true, message: `${badName(src.name)}; ${keyed ? "rename the key" : "rename the file or set name:"}` });
  return undefined;
}

/**
 * Duplicate keys, which Bun.YAML resolves silently (the last one wins). Finding them needs the slow `yaml` package, so
 * they are looked for under `strict` (sv validate) and when the config has other problems anyway, never on the fast path.
 */
async function reportDuplicateKeys(reader: Reader, positions: Positions, strict: boolean): Promise<void> {
  if (!strict && reader.problems.length === 0) return;
  for (const file of reader.texts.keys()) {
    const loc = await positions(file);
    for (const d of loc?.duplicates ?? []) {
      reader.problems.push({ file, path: d.path, at: d.at, message: `duplicate key (first at line ${d.first.line})` });
    }
  }
}
