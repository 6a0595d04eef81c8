// API tokens: loaded and hashed once, a presented bearer token compared in constant time; each token has a role.
import { readKeyFile } from "./key-files.ts";
import type { ApiRole, ApiSettings } from "../../config/schema.ts";
import { EXIT, SvError } from "../../errors.ts";

// Required at first use: a static import of node:crypto would be hoisted into every sv start (~4 ms).
const timingSafeEqual = (a: Buffer, b: Buffer): boolean => (require("node:crypto") as typeof import("node:crypto")).timingSafeEqual(a, b);

export interface Token {
  digest: Buffer;
  role: ApiRole;
}

/** The configured token presented (its role, and its identity for the per-token caps), compared in constant time against every one. */
export function authorize(tokens: Token[], header: string | null): Token | "missing" | "invalid" {
  const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  if (!m) return "missing";
  const digest = sha256(m[1]!);
  let found: Token | undefined;
  for (const t of tokens) if (timingSafeEqual(digest, t.digest)) found = t;
  return found ?? "invalid";
}

function sha256(text: string): Buffer {
  return Buffer.from(new Bun.CryptoHasher("sha256").update(text).digest());
}

/** The configured tokens, token_file ones read now; at least one is required. */
export function loadTokens(settings: ApiSettings): Token[] {
  const hint = 'add to sv.yml: api: { tokens: [{ token: "${SV_API_TOKEN}", role: operate }] }';
  if (settings.tokens.length === 0) throw new SvError("the API needs at least one token", { exitCode: EXIT.usage, hint });
  const seen = new Set<string>();
  return settings.tokens.map((t, i) => {
    let token = t.token;
    if (t.tokenFile !== undefined) {
      token = readKeyFile(`api.tokens.${i}.token_file`, t.tokenFile).trim();
      if (token.length < 16 || /\s/.test(token)) {
        throw new SvError(`api.tokens.${i}.token_file: ${t.tokenFile} must hold one token of at least 16 characters`, { exitCode: EXIT.usage, hint: "make one with `openssl rand -hex 32`" });
      }
    }
    if (/\s/.test(token!)) throw new SvError(`api.tokens.${i}.token must not contain white space`, { exitCode: EXIT.usage });
    if (seen.has(token!)) throw new SvError(`api.tokens.${i}: the same token is listed twice`, { exitCode: EXIT.usage });
    seen.add(token!);
    return { digest: sha256(token!), role: t.role };
  });
}
