/**
 * The `petrel-operator` program's command line, with no API server at all: a bad setting is refused
 * before it connects anywhere. Running it against Kubernetes (the chart's environment, the Lease,
 * /healthz, JSON logs, SIGTERM) is tested on the real control plane: operator-real/operator.test.ts
 * and operator-real/leader-election.test.ts.
 * Runs dist/operator/src/main.js from a build, or operator/src/main.ts through tsx in a checkout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './harness.js';

function operatorCommand(): string[] {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  return fromSource
    ? ['--import', 'tsx', path.join(repoRoot(), 'operator', 'src', 'main.ts')]
    : [path.join(repoRoot(), 'dist', 'operator', 'src', 'main.js')];
}

test('petrel-operator rejects a bad setting with exit code 2 and names it', async () => {
  const child = spawn(process.execPath, [...operatorCommand(), '--workers', 'many'], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /WORKERS: expected 1\.\.64, got "many"/);
});
