// Build dist/sv: `bun build --compile` with the flags that start fastest (minify, bytecode, ESM), plus one
// build-time rewrite. Bun hoists a bundled module's static imports of node builtins to the top of the
// bundle, so they load at every start even when that module never runs: listr2 (only drawn on a TTY)
// and its dependencies import tty, crypto, stream, string_decoder, util and os, ~10 ms of every `sv`
// run. Rewriting those imports in dependencies as require() calls makes them load when the module
// itself first runs. (sv's own sources require such builtins at first use where it matters.)
import type { BunPlugin } from "bun";

const BUILTINS = "util|os|tty|stream|string_decoder|crypto|process";
const IMPORT = new RegExp(`^import\\s+([^;]+?)\\s+from\\s+["'](?:node:)?(${BUILTINS})["'];?`, "gm");

/** `import X from "m"` / `* as X` / `{ a, b as c }` -> the same bindings from require("m"). */
function toRequire(bindings: string, mod: string): string {
  const req = `require("node:${mod}")`;
  if (bindings.startsWith("* as ")) return `const ${bindings.slice(5).trim()} = ${req};`;
  if (bindings.startsWith("{")) return `const ${bindings.replace(/\s+as\s+/g, ": ")} = ${req};`;
  return `const ${bindings} = ${req};`;
}

const lazyBuiltins: BunPlugin = {
  name: "lazy-builtins",
  setup(build) {
    build.onLoad({ filter: /node_modules\/.*\.m?js$/ }, async ({ path }) => {
      const source = await Bun.file(path).text();
      return { contents: source.replace(IMPORT, (_, bindings: string, mod: string) => toRequire(bindings.trim(), mod)), loader: "js" };
    });
  },
};

const outfile = process.argv[2] ?? "dist/sv";
const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  compile: { outfile },
  target: "bun",
  format: "esm",
  minify: true,
  bytecode: true,
  plugins: [lazyBuiltins],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile}`);
