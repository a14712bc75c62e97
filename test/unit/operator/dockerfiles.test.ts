/**
 * The images cannot be built here (no Docker engine), so their contract is checked from the
 * Dockerfiles: small Node 20 base, multi-stage, non-root, and a command identical to what the
 * tests and the operator's pod specs run. The operator image ships production dependencies only,
 * so operator code may import a devDependency for types only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { builtinModules } from 'node:module';
import { NODE_FLAGS } from '../../../broker/src/runtime.js';
import { CONFIG_PATH } from '../../../operator/src/desired/config-map.js';
import { desiredObjects } from '../../../operator/src/desired/index.js';
import { repoRoot, SAMPLE_SPECS } from './helpers.js';

const root = repoRoot();

function parse(file: string) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const of = (word: string) => lines.filter((l) => l.startsWith(word + ' ')).map((l) => l.slice(word.length + 1).trim());
  const json = (word: string) => (of(word).length ? (JSON.parse(of(word).at(-1)!) as string[]) : []);
  return { from: of('FROM'), user: of('USER'), entrypoint: json('ENTRYPOINT'), cmd: json('CMD'), copy: of('COPY') };
}

test('broker/Dockerfile: node:20-slim, multi-stage, non-root; runs node dist/broker/src/main.js --config /etc/petrel/petrel.yaml', () => {
  const d = parse('broker/Dockerfile');
  assert.ok(d.from.length >= 2 && d.from.every((f) => f.startsWith('node:20-slim')), d.from.join());
  assert.deepEqual(d.user, ['node']);
  assert.deepEqual([...d.entrypoint, ...d.cmd], ['node', ...NODE_FLAGS, 'dist/broker/src/main.js', '--config', CONFIG_PATH]);
  // bin/petrel (make run) starts the broker with the same Node options.
  const launcher = readFileSync(join(root, 'bin/petrel'), 'utf8');
  assert.ok(launcher.includes(`"\${NODE:-node}" ${NODE_FLAGS.join(' ')} $PETREL_NODE_ARGS`), 'bin/petrel passes NODE_FLAGS');
  assert.ok(existsSync(join(root, 'broker/src/main.ts')), 'dist/broker/src/main.js comes from broker/src/main.ts');
  assert.ok(d.copy.some((c) => c.includes('package.json ./')), 'package.json ("type": "module") is in the image');
  // The pods the operator builds pass the same arguments the image's CMD has.
  for (const o of desiredObjects(SAMPLE_SPECS.oneRegion!) as any[]) {
    const spec = o.spec?.template?.spec;
    const broker = spec?.containers?.find((c: any) => c.name === 'broker');
    if (broker) {
      assert.deepEqual(broker.args, d.cmd, `${o.kind}/${o.metadata.name}`);
      assert.equal(broker.command, undefined, 'the image ENTRYPOINT is used');
    }
  }
});

test('operator/Dockerfile: node:20-slim, multi-stage, non-root; runs node dist/operator/src/main.js', () => {
  const d = parse('operator/Dockerfile');
  assert.ok(d.from.length >= 2 && d.from.every((f) => f.startsWith('node:20-slim')), d.from.join());
  assert.deepEqual(d.user, ['node']);
  assert.deepEqual([...d.entrypoint, ...d.cmd], ['node', 'dist/operator/src/main.js']);
  assert.ok(existsSync(join(root, 'operator/src/main.ts')), 'operator/src/main.ts → dist/operator/src/main.js');
});

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('operator code imports at run time only production dependencies', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const prod = new Set(Object.keys(pkg.dependencies ?? {}));
  const builtins = new Set(builtinModules);
  const bad: string[] = [];
  for (const f of tsFiles(join(root, 'operator/src'))) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[3]!;
      if (m[2] || spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!prod.has(name)) bad.push(`${f.slice(root.length + 1)}: ${spec}`);
    }
  }
  assert.deepEqual(bad, [], 'these would be missing from the operator image (devDependencies are pruned)');
});
