// Bundle every view of the registry (js/views.json) into circuitwidgets/static/<bundle>.js
// (+ <bundle>.css) and copy the vendor scripts the static HTML export inlines into
// circuitwidgets/static/vendor/. Once every bundle is there it writes static/views.json (the
// target pyproject.toml's build hook ensures, so a view missing from the build fails it).
//
//   node js/build.mjs           one production build (minified)
//   node js/build.mjs --watch   rebuild on every change (for `npm run dev`)
//
// Adding a view is one line in js/views.json; js/src/kit/ holds what views share. Each bundle
// is a self-contained ES module (anywidget imports it from a string), so nothing loads from a
// CDN.
import { access, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
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

/** The registry: `{bundle: entry path}` for esbuild, checked. */
async function views() {
  const { views: list } = JSON.parse(await readFile(join(here, "views.json"), "utf8"));
  if (!Array.isArray(list) || list.length === 0) throw new Error("js/views.json lists no views");
  const entries = {};
  for (const { bundle, entry } of list) {
    if (!/^[a-z_]+$/.test(bundle ?? "")) throw new Error(`js/views.json: bad bundle name ${JSON.stringify(bundle)}`);
    if (bundle in entries) throw new Error(`js/views.json: ${bundle} is listed twice`);
    await access(join(root, entry)).catch(() => {
      throw new Error(`js/views.json: the entry of ${bundle}, ${entry}, does not exist`);
    });
    entries[bundle] = join(root, entry);
  }
  return entries;
}

/** static/views.json: each built bundle and whether it has CSS (after checking each is there). */
async function writeManifest(entries) {
  const built = {};
  for (const bundle of Object.keys(entries)) {
    await access(join(outDir, `${bundle}.js`));
    built[bundle] = { css: await access(join(outDir, `${bundle}.css`)).then(() => true, () => false) };
  }
  await writeFile(join(outDir, "views.json"), JSON.stringify(built, null, 2) + "\n");
}

async function copyVendor() {
  const require = createRequire(import.meta.url);
  const vendorDir = join(outDir, "vendor");
  await mkdir(vendorDir, { recursive: true });
  for (const [name, spec] of Object.entries(VENDOR)) {
    await copyFile(require.resolve(spec), join(vendorDir, name));
  }
}

const entries = await views();
const options = {
  entryPoints: entries,
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
  await writeManifest(entries);
}
