// The container phases' port probes, shared by the phases and the raw script.
import { acceptsAt } from "../proc.ts";

/** Does 127.0.0.1:port accept a TCP connection now? At most 250 ms per connect (a DNAT'd port whose container is gone may drop SYNs). */
export const acceptsNow = (port: number) => acceptsAt("127.0.0.1", port);

/** Does an HTTP GET / on 127.0.0.1:port get a 2xx answer now? (docker's proxy accepts before the container listens) */
export async function servesNow(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
