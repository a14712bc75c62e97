/**
 * The etcd bootstrap script that runs in each core pod's init container, run here with node and a
 * real etcd (Debian's etcd-server) on loopback: first start, joining after the operator added the
 * member, refusing to join before that, and restarting with data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ETCD_BOOTSTRAP_SCRIPT } from '../../../operator/src/desired/etcd-bootstrap.js';

const ETCD = '/usr/bin/etcd';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Member { name: string; peer: string; client: string }

async function member(name: string): Promise<Member> {
  return { name, peer: `http://127.0.0.1:${await freePort()}`, client: `http://127.0.0.1:${await freePort()}` };
}

function runScript(self: Member, members: Member[], dir: string): { code: number | null; out: string; err: string; config: any } {
  const out = path.join(dir, `${self.name}.conf.yml`);
  rmSync(out, { force: true });
  // The member list comes from a file, as in the pod (a key of the mounted ConfigMap).
  const membersFile = path.join(dir, `${self.name}.members.json`);
  writeFileSync(membersFile, JSON.stringify(members));
  const r = spawnSync(process.execPath, ['-e', ETCD_BOOTSTRAP_SCRIPT], {
    env: {
      PATH: process.env.PATH,
      POD_NAME: self.name,
      ETCD_MEMBERS_FILE: membersFile,
      ETCD_DATA_DIR: path.join(dir, self.name),
      ETCD_TOKEN: 'test-token',
      ETCD_CONFIG_OUT: out,
      ETCD_LISTEN_PEER: self.peer,
      ETCD_LISTEN_CLIENT: self.client,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr, config: existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : null };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

async function memberList(client: string): Promise<{ name?: string; peerURLs: string[] }[]> {
  const r = await fetch(`${client}/v3/cluster/member/list`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
  return ((await r.json()) as any).members;
}

test('etcd bootstrap: new cluster, join after member add, refuse before, restart with data', { timeout: 60_000 }, async (t) => {
  if (!existsSync(ETCD)) assert.fail(`${ETCD} not found: install it with \`apt-get install etcd-server\``);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-etcd-boot-'));
  const procs: ChildProcess[] = [];
  let logs = '';
  t.after(() => {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const startEtcd = (configFile: string) => {
    const p = spawn(ETCD, [`--config-file=${configFile}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d) => (logs += d));
    p.stderr!.on('data', (d) => (logs += d));
    procs.push(p);
    return p;
  };

  const m0 = await member('c-core-0');
  const m1 = await member('c-core-1');
  const m2 = await member('c-core-2');

  // First start: nobody answers → a new one-member cluster (m0 alone is the initial cluster here).
  const first = runScript(m0, [m0], dir);
  assert.equal(first.code, 0, first.err);
  assert.equal(first.config['initial-cluster-state'], 'new');
  assert.equal(first.config['initial-cluster'], `c-core-0=${m0.peer}`);
  assert.equal(first.config['initial-advertise-peer-urls'], m0.peer);
  assert.equal(first.config['advertise-client-urls'], m0.client);
  assert.equal(first.config['initial-cluster-token'], 'test-token');
  startEtcd(path.join(dir, 'c-core-0.conf.yml'));
  await waitFor('c-core-0 to serve', async () => ((await memberList(m0.client)).length === 1 ? true : undefined));

  // Scale-up before the operator added the member: the script refuses (kubelet retries it).
  const early = runScript(m1, [m0, m1], dir);
  assert.equal(early.code, 1);
  assert.match(early.err, /does not list .* yet; the operator adds the member before scaling up/);
  assert.equal(early.config, null);

  // The operator adds the member through the etcd API; now the script joins the running cluster.
  const add = await fetch(`${m0.client}/v3/cluster/member/add`, { method: 'POST', body: JSON.stringify({ peerURLs: [m1.peer] }) });
  assert.equal(add.status, 200);
  const join = runScript(m1, [m0, m1], dir);
  assert.equal(join.code, 0, join.err);
  assert.equal(join.config['initial-cluster-state'], 'existing');
  assert.deepEqual(join.config['initial-cluster'].split(',').sort(), [`c-core-0=${m0.peer}`, `c-core-1=${m1.peer}`]);
  startEtcd(path.join(dir, 'c-core-1.conf.yml'));
  const started = await waitFor('c-core-1 to join', async () => {
    const list = await memberList(m0.client);
    return list.length === 2 && list.every((m) => m.name) ? list : undefined;
  }).catch((e) => assert.fail(`${e}\n${logs.slice(-3000)}`));
  assert.deepEqual(started.map((m) => m.name).sort(), ['c-core-0', 'c-core-1']);

  // A member that already has data starts as before (etcd ignores the initial-* settings then).
  mkdirSync(path.join(dir, 'c-core-2', 'member'), { recursive: true });
  const restart = runScript(m2, [m0, m1, m2], dir);
  assert.equal(restart.code, 0, restart.err);
  assert.equal(restart.config['initial-cluster-state'], 'existing');
  assert.match(restart.out, /has data/);

  // A pod that is not among the members is refused outright.
  const stranger = runScript(await member('other-0'), [m0], dir);
  assert.equal(stranger.code, 1);
  assert.match(stranger.err, /is not among the etcd members/);
});
