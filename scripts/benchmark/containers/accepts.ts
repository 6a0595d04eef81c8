// The benchmark's port probe, shared by the phases and the raw script: does 127.0.0.1:port accept a TCP
// connection now? At most 250 ms per connect (a DNAT'd port whose container is gone may drop SYNs).
export async function acceptsNow(port: number): Promise<boolean> {
  let timer: Timer | undefined;
  const attempt = Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {} } }).then(
    (s) => {
      s.end();
      return true;
    },
    () => false,
  );
  const ok = await Promise.race([attempt, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 250)))]);
  clearTimeout(timer);
  return ok;
}
