// Bundles the dashboard into static files: src/main.js (with uPlot and the CSS it imports) through
// esbuild into content-hashed app-<hash>.js / app-<hash>.css, the icon under a hashed name, and
// index.html pointing at them. vrpd embeds the result (web/CMakeLists.txt), so nothing here may
// reference another origin.
//
//   node build.mjs                  writes web/dist/
//   node build.mjs --outdir DIR     writes DIR (the CMake build uses its own binary dir)
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let outdir = path.join(here, 'dist');
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--outdir' && i + 1 < args.length) {
    outdir = path.resolve(args[++i]);
  } else {
    console.error(`build.mjs: unknown argument '${args[i]}' (allowed: --outdir DIR)`);
    process.exit(2);
  }
}

const short_hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);

await rm(outdir, { recursive: true, force: true });
await mkdir(path.join(outdir, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src', 'main.js') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: path.join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) {
  console.error(`build.mjs: esbuild produced ${outputs.join(', ')}; expected one .js and one .css`);
  process.exit(1);
}

const icon = await readFile(path.join(here, 'src', 'favicon.svg'));
const icon_name = `favicon-${short_hash(icon)}.svg`;
await writeFile(path.join(outdir, 'assets', icon_name), icon);

const template = await readFile(path.join(here, 'src', 'index.html'), 'utf8');
const html = template
  .replaceAll('%APP_JS%', `/assets/${js}`)
  .replaceAll('%APP_CSS%', `/assets/${css}`)
  .replaceAll('%ICON%', `/assets/${icon_name}`);
if (/%[A-Z_]+%/.test(html)) {
  console.error('build.mjs: src/index.html has a placeholder this script does not fill');
  process.exit(1);
}
await writeFile(path.join(outdir, 'index.html'), html);

const files = (await readdir(path.join(outdir, 'assets'))).sort();
console.log(`build.mjs: ${outdir}: index.html, ${files.map((f) => 'assets/' + f).join(', ')}`);
