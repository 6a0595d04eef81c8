// HTTP probe (ofetch): a GET that must answer the expected status within the timeout, no retries.
import { ofetch } from "ofetch";

/** Resolves null when `url` answers `expectedStatus`, else the reason. */
export async function probeHttp(url: string, expectedStatus: number, timeoutMs: number): Promise<string | null> {
  try {
    const res = await ofetch.raw(url, { method: "GET", retry: 0, timeout: timeoutMs, ignoreResponseError: true, responseType: "text" });
    return res.status === expectedStatus ? null : `${url} returned ${res.status} (expected ${expectedStatus})`;
  } catch (e) {
    const err = e as Error & { cause?: Error & { code?: string; name?: string } };
    if (err.cause?.name === "TimeoutError" || err.name === "TimeoutError") return `${url} did not answer within ${timeoutMs} ms`;
    return `${url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`;
  }
}
