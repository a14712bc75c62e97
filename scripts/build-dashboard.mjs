#!/usr/bin/env node
/**
 * Builds the dashboard (dashboard/src, Preact + uPlot) into dist/dashboard/: one minified
 * script and one stylesheet with content hashes in their names (served as immutable), an
 * index.html naming them (served no-cache), and a .gz and .br copy of each, compressed once
 * here so the node never compresses per request. Run by `make build`; docs/dashboard.md.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'dashboard');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'dashboard', 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
const html = readFileSync(join(root, 'dashboard', 'index.html'), 'utf8')
  .replace('%CSS%', css ? `<link rel="stylesheet" href="/${css}">` : '')
  .replace('%JS%', `<script type="module" src="/${js}"></script>`);
writeFileSync(join(out, 'index.html'), html);

let raw = 0, gz = 0;
for (const f of [...outputs.filter((o) => !o.endsWith('.map')), 'index.html']) {
  const body = readFileSync(join(out, f));
  const g = gzipSync(body, { level: 9 });
  writeFileSync(join(out, f + '.gz'), g);
  writeFileSync(join(out, f + '.br'), brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  raw += body.length; gz += g.length;
}
console.log(`dashboard: ${(raw / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzipped → dist/dashboard/`);
