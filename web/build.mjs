// `npm run build`: bundles the app (src/main.ts and everything it imports,
// generated stubs and libraries included) into dist/app.js, and copies the
// page and its stylesheet. The output is deterministic (fixed names, no
// timestamps, no content hashes): CI rebuilds it and fails on any
// difference from the committed dist/, which the server embeds.
// `--tests` also bundles test/*.test.ts and e2e/*.test.ts for node --test.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";

const common = { bundle: true, target: "es2022", legalComments: "none", logLevel: "warning" };

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  ...common,
  entryPoints: ["src/main.ts"],
  outfile: "dist/app.js",
  format: "iife",
  platform: "browser",
  minify: true,
  charset: "utf8",
});
copyFileSync("src/index.html", "dist/index.html");
copyFileSync("src/app.css", "dist/app.css");

if (process.argv.includes("--tests")) {
  for (const [dir, out] of [["test", "test-build"], ["e2e", "test-build-e2e"]]) {
    rmSync(out, { recursive: true, force: true });
    if (!existsSync(dir)) continue;
    const entries = readdirSync(dir).filter((f) => f.endsWith(".test.ts")).map((f) => `${dir}/${f}`);
    if (entries.length === 0) continue;
    await build({
      ...common,
      entryPoints: entries,
      outdir: out,
      outExtension: { ".js": ".mjs" },
      format: "esm",
      platform: "node",
      packages: "external",
    });
  }
}
