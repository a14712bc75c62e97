// workers/config.ts: a worker's name, index and config; auto's CPU count under a container limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../broker/src/config/index.js';
import { cgroupCpuLimit, nodeOfMember, workerConfig, workerIndexOf, workerName } from '../../../broker/src/workers/config.js';

const files = (m: Record<string, string>) => (p: string): string => {
  const v = m[p];
  if (v === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
  return v;
};

test('worker names: worker 1 is the node, worker i <name>.w<i>@<host>, and back', () => {
  assert.equal(workerName('petrel@10.0.0.5', 1), 'petrel@10.0.0.5');
  assert.equal(workerName('petrel@10.0.0.5', 3), 'petrel.w3@10.0.0.5');
  assert.equal(nodeOfMember('petrel.w3@10.0.0.5'), 'petrel@10.0.0.5');
  assert.equal(nodeOfMember('petrel@10.0.0.5'), 'petrel@10.0.0.5');
  assert.equal(workerIndexOf('petrel.w3@10.0.0.5'), 3);
  assert.equal(workerIndexOf('petrel@10.0.0.5'), 1);
});

test('worker i > 1 gets its own name, data dir, link port, and no datagram listeners', () => {
  const cfg = loadConfig({ overrides: {
    node: { name: 'n@127.0.0.1', data_dir: '/var/lib/petrel', workers: 3 },
    cluster: { backend: 'etcd', etcd: { endpoints: ['http://127.0.0.1:2379'] }, link: { bind: '0.0.0.0:5370', advertise: '10.0.0.5:5370' } },
  } });
  assert.equal(workerConfig(cfg, 1), cfg, 'worker 1 is the node as configured');
  const w3 = workerConfig(cfg, 3);
  assert.equal(w3.node.name, 'n.w3@127.0.0.1');
  assert.equal(w3.node.data_dir, '/var/lib/petrel/workers/3');
  assert.equal(w3.cluster.link.bind, '0.0.0.0:5372');
  assert.equal(w3.cluster.link.advertise, '10.0.0.5:5372');
  assert.deepEqual(w3.listeners.quic, {});
  assert.equal(w3.gateway.mqttsn, null);
  assert.equal(w3.gateway.coap, null);
  assert.equal(cfg.node.name, 'n@127.0.0.1', 'the node\'s own config is untouched');
});

test('auto under a container CPU limit: cgroup v2 cpu.max, then v1 quota/period, rounded up', () => {
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '250000 100000\n' })), 3);
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), null);
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 1);
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000' })), null);
  assert.equal(cgroupCpuLimit(files({})), null);
});
