/**
 * The `petrel-operator` program as a child process against the FAKE API server: it reads
 * KUBECONFIG and the environment the Helm chart sets, takes the Lease, reconciles, answers
 * /healthz, logs JSON lines, and on SIGTERM releases the Lease and exits 0.
 * Runs dist/operator/src/main.js from a build, or operator/src/main.ts through tsx in a checkout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeKubeApiServer } from '../../support/fake-kube-apiserver.js';
import { freePort } from '../../support/etcd-cluster.js';
import { MQC, condition, loadExample, repoRoot, startFake, waitFor } from './harness.js';

let fake: FakeKubeApiServer;
let dir: string;
before(async () => {
  fake = await startFake(['default', 'ops']);
  dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-op-cli-'));
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function operatorCommand(): string[] {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  return fromSource
    ? ['--import', 'tsx', path.join(repoRoot(), 'operator', 'src', 'main.ts')]
    : [path.join(repoRoot(), 'dist', 'operator', 'src', 'main.js')];
}

test('petrel-operator runs, leads, reconciles, serves /healthz and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const kubeconfig = fake.writeKubeconfig(dir);
  const child = spawn(process.execPath, operatorCommand(), {
    cwd: repoRoot(),
    env: {
      ...process.env, KUBECONFIG: kubeconfig, WATCH_NAMESPACE: 'default', POD_NAME: 'op-cli', POD_NAMESPACE: 'ops',
      METRICS_ADDR: `127.0.0.1:${port}`, LEADER_ELECT: 'true', LOG_FORMAT: 'json', LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    fake.put(loadExample('single-region.yaml'));
    await waitFor(() => condition(fake.find(MQC, 'MqttCluster', 'default', 'petrel'), 'Ready'), `status from the operator process\n${out}`, 20_000);
    assert.ok(fake.find('apps/v1', 'StatefulSet', 'default', 'petrel-core'));
    assert.equal(fake.find('coordination.k8s.io/v1', 'Lease', 'ops', 'petrel-operator-leader').spec.holderIdentity, 'op-cli');
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.level === 'info' && /became leader/.test(l.msg)), 'JSON log lines with level names');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
  assert.equal(fake.find('coordination.k8s.io/v1', 'Lease', 'ops', 'petrel-operator-leader').spec.holderIdentity, undefined, 'Lease released');
});

test('petrel-operator rejects a bad setting with exit code 2 and names it', async () => {
  const child = spawn(process.execPath, [...operatorCommand(), '--workers', 'many'], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /WORKERS: expected 1\.\.64, got "many"/);
});
