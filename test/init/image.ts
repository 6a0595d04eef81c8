// An image whose ENTRYPOINT is the compiled sv's `init`, built on a real engine from the busybox test image, as
// README's Dockerfile does it. dist/sv is a glibc binary and busybox-static has no libc: the libraries `ldd`
// names (and the loader) are copied in beside it. Plain TS: the init benchmark builds it too.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { type Engine, TEST_IMAGE } from "../helpers/engines.ts";

/** The shared libraries a dynamic ELF needs, as `ldd` resolves them (absolute paths; the loader included). */
export function libraries(binary: string): string[] {
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ldd ${binary}: ${r.stderr.toString()}`);
  const out: string[] = [];
  for (const line of r.stdout.toString().split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** The build context: Dockerfile + rootfs/ (sv, its libraries, the project under /app). */
function context(sv: string, project: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "sv-init-image-"));
  const root = join(dir, "rootfs");
  const put = (path: string, from: string | { text: string }) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    if (typeof from === "string") copyFileSync(from, join(root, path));
    else writeFileSync(join(root, path), from.text);
  };
  put("usr/local/bin/sv", sv);
  chmodSync(join(root, "usr/local/bin/sv"), 0o755);
  // Where a Debian binary looks for them: the loader at its absolute path, the rest in the multiarch dir.
  for (const lib of libraries(sv)) put(lib.includes("ld-linux") ? lib : `lib/x86_64-linux-gnu/${basename(lib)}`, lib);
  for (const [path, text] of Object.entries(project)) put(`app/${path}`, { text });
  writeFileSync(join(dir, "Dockerfile"), [`FROM ${TEST_IMAGE}`, "COPY rootfs/ /", "WORKDIR /app", 'ENTRYPOINT ["/usr/local/bin/sv", "init"]', ""].join("\n"));
  const tar = join(dir, "context.tar");
  const r = Bun.spawnSync(["tar", "--owner=0", "--group=0", "--numeric-owner", "-C", dir, "-cf", tar, "Dockerfile", "rootfs"], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar: ${r.stderr.toString()}`);
  rmSync(root, { recursive: true, force: true });
  return tar;
}

/** Build `tag` on `engine` (POST /build) from the test image, `sv` and the project files (path under /app -> text). */
export async function buildInitImage(engine: Engine, tag: string, sv: string, project: Record<string, string>): Promise<void> {
  const tar = context(sv, project);
  try {
    const answer = await engine.api("POST", `/build?t=${encodeURIComponent(tag)}&rm=1&forcerm=1&pull=0`, new Uint8Array(await Bun.file(tar).arrayBuffer()));
    const lines: { error?: string; stream?: string }[] = Array.isArray(answer) ? answer : [answer];
    const failed = lines.find((l) => l?.error);
    if (failed) throw new Error(`build of ${tag} failed: ${failed.error}\n${lines.map((l) => l?.stream ?? "").join("")}`);
  } finally {
    rmSync(dirname(tar), { recursive: true, force: true });
  }
}

/** A container's output, from GET /containers/ID/logs: the 8-byte frames of a non-TTY container, split. */
export async function containerLogs(engine: Engine, id: string): Promise<{ stdout: string; stderr: string }> {
  const res = await fetch(`http://localhost/v1.41/containers/${id}/logs?stdout=1&stderr=1`, { unix: engine.socket } as RequestInit);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const out = { stdout: "", stderr: "" };
  const decoder = new TextDecoder();
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = new DataView(bytes.buffer, bytes.byteOffset + at + 4, 4).getUint32(0);
    const text = decoder.decode(bytes.subarray(at + 8, at + 8 + size));
    if (bytes[at] === 2) out.stderr += text;
    else out.stdout += text;
    at += 8 + size;
  }
  return out;
}
