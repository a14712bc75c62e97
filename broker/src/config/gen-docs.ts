/**
 * Writes docs/config.md from the schema. Run from anywhere:
 * `node --import tsx broker/src/config/gen-docs.ts` or `node dist/broker/src/config/gen-docs.js`.
 * `--check` exits 1 when the file is stale instead of writing it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from './docs.js';

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

export function configDocsPath(): string {
  return join(findRepoRoot(), 'docs', 'config.md');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = configDocsPath();
  const text = renderConfigDocs();
  if (process.argv.includes('--check')) {
    const cur = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (cur !== text) {
      console.error(`${path} is stale: run node --import tsx broker/src/config/gen-docs.ts`);
      process.exit(1);
    }
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
