// Build the exercise page's editor: src/main.js and the CodeMirror packages pinned by
// package-lock.json, bundled by esbuild into editor.js, plus editor.licenses.txt (the
// licenses of every package in the bundle). `make editor` runs it; the output is committed,
// and tests/web/test_editor_bundle.py checks that a fresh build gives the same bytes, so
// every option here must be deterministic (no timestamps, no absolute paths, no source maps).
//
// Usage: node build.mjs [OUTDIR]   (default: this folder)

import { build } from "esbuild";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] || here);
const BANNER =
  "/* ServeLab's code editor: CodeMirror 6 bundled by esbuild from src/ (build.mjs, `make editor`)." +
  " Do not edit; licenses in editor.licenses.txt. */";

const result = await build({
  absWorkingDir: here,
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: true,
  charset: "utf8",
  legalComments: "none",
  sourcemap: false,
  metafile: true,
  write: false,
  outfile: "editor.js",
  banner: { js: BANNER },
  logLevel: "warning",
});

// The package folder of a bundled file: node_modules/<name> or node_modules/@scope/<name>.
function packageDir(input) {
  const parts = input.split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return null;
  const length = parts[at + 1].startsWith("@") ? 3 : 2;
  return parts.slice(0, at + length).join("/");
}

async function licenses(inputs) {
  const dirs = [...new Set(inputs.map(packageDir).filter(Boolean))];
  const sections = [];
  for (const dir of dirs) {
    const folder = path.join(here, dir);
    const meta = JSON.parse(await readFile(path.join(folder, "package.json"), "utf8"));
    const file = ["LICENSE", "LICENSE.md", "LICENSE.txt"].find((name) => existsSync(path.join(folder, name)));
    const text = file ? (await readFile(path.join(folder, file), "utf8")).trim() : `License: ${meta.license}`;
    sections.push(`${meta.name} ${meta.version} (${meta.license})\n\n${text}\n`);
  }
  sections.sort();
  return "Packages bundled into editor.js (from package-lock.json):\n\n" + sections.join("\n" + "-".repeat(72) + "\n\n");
}

await mkdir(outdir, { recursive: true });
const [bundle] = result.outputFiles;
await writeFile(path.join(outdir, "editor.js"), bundle.contents);
// Only what made it into the bundle (tree shaking leaves some imported packages out).
const used = Object.entries(result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].inputs)
  .filter(([, input]) => input.bytesInOutput > 0)
  .map(([name]) => name);
await writeFile(path.join(outdir, "editor.licenses.txt"), await licenses(used));
console.log(`editor.js: ${bundle.contents.length} bytes from ${used.length} modules -> ${outdir}`);
