// Bundle every view in js/src/*.ts into circuitwidgets/static/<view>.js (+ <view>.css) and
// copy the vendor scripts the static HTML export inlines into circuitwidgets/static/vendor/.
//
//   node js/build.mjs           one production build (minified)
//   node js/build.mjs --watch   rebuild on every change (for `npm run dev`)
//
// A view is a top-level file of js/src/; js/src/kit/ holds what views share. Each bundle is a
// self-contained ES module (anywidget imports it from a string), so nothing loads from a CDN.
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const srcDir = join(here, "src");
const outDir = join(root, "circuitwidgets", "static");
const watch = process.argv.includes("--watch");

// What the static export (circuitwidgets/widgets/_export.py) inlines, by the file name it
// expects under static/vendor/.
const VENDOR = {
  "require.js": "requirejs/require.js",
  "embed-amd.js": "@jupyter-widgets/html-manager/dist/embed-amd.js",
};

async function views() {
  const names = (await readdir(srcDir, { withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(srcDir, e.name));
  if (names.length === 0) throw new Error(`no views found in ${srcDir}`);
  return names;
}

async function copyVendor() {
  const require = createRequire(import.meta.url);
  const vendorDir = join(outDir, "vendor");
  await mkdir(vendorDir, { recursive: true });
  for (const [name, spec] of Object.entries(VENDOR)) {
    await copyFile(require.resolve(spec), join(vendorDir, name));
  }
}

const options = {
  entryPoints: await views(),
  outdir: outDir,
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  // Some notebook front ends (classic Notebook, VS Code) put an AMD `define` on the page;
  // bundled UMD code must not register itself there.
  define: { "define.amd": "false" },
  logLevel: "info",
};

await copyVendor();
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`watching ${srcDir} -> ${outDir}`);
} else {
  await esbuild.build(options);
}
