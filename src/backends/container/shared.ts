// What a project's containers share in the engine: its network (where they reach each other by service
// name) and its named volumes. Created on first use, kept across down/up; removed by `sv down` of the whole
// project (volumes only with --volumes).
import type { VolumeMount } from "../../config/container.ts";
import type { Project } from "../../config/schema.ts";
import { EngineError, type EngineClient } from "./client.ts";
import { networkName, projectFilter, projectLabels, volumeName } from "./names.ts";

const isConflict = (e: unknown) => e instanceof EngineError && (e.status === 409 || /already exists|already in use/i.test(e.message));
const isMissing = (e: unknown) => e instanceof EngineError && e.status === 404;

/** The project network as this sv last saw it, for a short while: the units of one `sv up` check it once, while a long-lived sv watch looks again (someone may have removed it). */
const networks = new WeakMap<EngineClient, { at: number; gateway: Promise<string | null> }>();
const NETWORK_SEEN_MS = 2000;

interface NetworkInfo {
  IPAM?: { Config?: { Gateway?: string }[] | null };
}

/** The project's network exists (made once per sv; a racing sv making it too is fine). Its gateway: the host, seen from it. */
export function ensureNetwork(client: EngineClient, project: Project): Promise<string | null> {
  const seen = networks.get(client);
  let p = seen && performance.now() - seen.at < NETWORK_SEEN_MS ? seen.gateway : undefined;
  if (!p) {
    const name = networkName(project);
    const inspect = () => client.json<NetworkInfo>("GET", `/networks/${name}`);
    p = inspect()
      .catch(async (e) => {
        if (!isMissing(e)) throw e;
        await client.request("POST", "/networks/create", { body: { Name: name, Labels: projectLabels(project), CheckDuplicate: true } }).catch((e2) => (isConflict(e2) ? undefined : Promise.reject(e2)));
        return inspect();
      })
      .then((n) => n.IPAM?.Config?.find((c) => c.Gateway)?.Gateway ?? null);
    networks.set(client, { at: performance.now(), gateway: p });
    p.catch(() => networks.delete(client));
  }
  return p;
}

/** Forget that the network exists (something removed it meanwhile: a long-lived sv watch must make it again). */
export function forgetNetwork(client: EngineClient): void {
  networks.delete(client);
}

/** Each named volume exists, labelled as the project's. */
export async function ensureVolumes(client: EngineClient, project: Project, volumes: VolumeMount[]): Promise<void> {
  for (const v of volumes) {
    if (v.kind !== "volume") continue;
    const Name = volumeName(project, v.source);
    await client.request("POST", "/volumes/create", { body: { Name, Labels: projectLabels(project) } }).catch((e) => (isConflict(e) ? undefined : Promise.reject(e)));
  }
}

/** After the whole project is down: its network (if no container of it is left) and, with `volumes`, its volumes. What was removed. */
export async function removeProjectObjects(client: EngineClient, project: Project, opts: { volumes: boolean }): Promise<string[]> {
  const removed: string[] = [];
  const left = await client.json<unknown[]>("GET", "/containers/json", { query: { all: 1, filters: projectFilter(project) } });
  if (left.length > 0) return removed;
  const name = networkName(project);
  await client.request("DELETE", `/networks/${name}`).then(
    () => void removed.push(`network ${name}`),
    (e) => (isMissing(e) ? undefined : Promise.reject(e)),
  );
  networks.delete(client);
  if (!opts.volumes) return removed;
  const { Volumes } = await client.json<{ Volumes: { Name: string }[] | null }>("GET", "/volumes", { query: { filters: projectFilter(project) } });
  for (const v of Volumes ?? []) {
    await client.request("DELETE", `/volumes/${v.Name}`).then(
      () => void removed.push(`volume ${v.Name}`),
      (e) => (isMissing(e) ? undefined : Promise.reject(e)),
    );
  }
  return removed;
}
