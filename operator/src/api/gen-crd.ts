/**
 * Writes the MqttCluster CRD to crds/ and to the Helm chart's crds/ (`make crds`):
 *   node dist/operator/src/api/gen-crd.js [--check]
 * With --check it writes nothing and exits 1 when either file is stale.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHART_CRD_FILE, CRD_FILE, renderCrdYaml } from './crd.js';

/** The repository root: the nearest directory above `from` holding package.json. */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 20; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`no package.json above ${from}`);
}

export function main(argv: string[]): number {
  const root = findRepoRoot();
  const text = renderCrdYaml();
  const check = argv.includes('--check');
  let stale = 0;
  for (const rel of [CRD_FILE, CHART_CRD_FILE]) {
    const path = join(root, rel);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (current === text) continue;
    if (check) {
      console.error(`${rel} is stale: run \`node dist/operator/src/api/gen-crd.js\``);
      stale++;
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote ${rel}`);
    }
  }
  return stale ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
