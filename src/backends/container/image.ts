// Making sure a container's image is in the engine, as its `pull:` policy says: never, when missing, always.
import { SvError } from "../../errors.ts";
import type { PullPolicy } from "../../config/container.ts";
import { EngineError, type EngineClient } from "./client.ts";

/** Images checked (or pulled) by this sv, per engine: instances of one service pull once. */
const checked = new WeakMap<EngineClient, Map<string, Promise<void>>>();

export function ensureImage(client: EngineClient, image: string, pull: PullPolicy, unit: string): Promise<void> {
  let mine = checked.get(client);
  if (!mine) checked.set(client, (mine = new Map()));
  const key = `${pull} ${image}`;
  let p = mine.get(key);
  if (!p) {
    p = check(client, image, pull);
    mine.set(key, p);
    p.catch(() => mine.delete(key));
  }
  return p.catch((e: Error) => Promise.reject(new SvError(`${unit}: ${e.message}`)));
}

async function check(client: EngineClient, image: string, pull: PullPolicy): Promise<void> {
  if (pull !== "always") {
    const present = await client.request("GET", `/images/${image}/json`).then(
      () => true,
      (e) => (e instanceof EngineError && e.status === 404 ? false : Promise.reject(e)),
    );
    if (present) return;
    if (pull === "never") throw new SvError(`image ${image} is not in the engine, and pull: never; load or build it there (docker load, podman import), or set pull: missing`);
  }
  await pullImage(client, image);
}

/** `name[:tag]` as the create endpoint wants it (a digest stays in the name). */
export function splitImage(image: string): { fromImage: string; tag?: string } {
  if (image.includes("@")) return { fromImage: image };
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/") ? { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) } : { fromImage: image, tag: "latest" };
}

/** Pull: errors come inside a 200 stream too, so it is read to its end. */
async function pullImage(client: EngineClient, image: string): Promise<void> {
  let error: string | null = null;
  try {
    await client.stream("POST", "/images/create", (o) => void (o.error && (error = String(o.error))), { query: splitImage(image) });
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    error = e.message;
  }
  if (error !== null) throw new SvError(`pulling ${image} failed: ${String(error).trim().split("\n")[0]}; check the image name and the registry, or load the image and set pull: never`);
}
