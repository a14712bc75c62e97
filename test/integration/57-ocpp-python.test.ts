/**
 * The OCPP gateway against a third-party charge point: the PyPI `ocpp` package on
 * `websockets` (pinned in scripts/python-requirements.txt, installed into a cached venv by
 * scripts/python-deps.sh), driven by test/support/ocpp-py-charge-point.py. An MQTT.js client
 * plays the central system: it accepts the BootNotification, sends RemoteStartTransaction and
 * reads the charge point's answer on cp/{cid}/Reply, then answers a Heartbeat.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startBroker, client, collect, until, end, repoRoot, type TestBroker, type Received } from '../support/broker.js';
import { getJson } from '../support/api.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-ocpp-py-'));
const users = join(dir, 'users.csv');
writeFileSync(users, 'user_id,password,is_superuser\nPY-CP-1,secret-1,false\ncs,cs-pw,false\n');

let b: TestBroker;
let port: number;
let python: string;

before(async () => {
  python = execFileSync('bash', [join(repoRoot(), 'scripts/python-deps.sh'), '--print'], { encoding: 'utf8' }).trim();
  b = await startBroker({
    authentication: [{ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', bootstrap_file: users, bootstrap_type: 'plain' }],
    gateway: { ocpp: { message_format_checking: 'all', listeners: { ws: { default: { bind: '127.0.0.1:0' } } } } },
  });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/ocpp/listeners'))[0].port;
});
after(async () => {
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(cid: string, password: string): { steps: Array<Record<string, unknown>>; exited: Promise<number>; stderr: () => string; kill: () => void } {
  const proc = spawn(python, [join(repoRoot(), 'test/support/ocpp-py-charge-point.py'), `ws://127.0.0.1:${port}/ocpp`, cid, password], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const steps: Array<Record<string, unknown>> = [];
  createInterface({ input: proc.stdout }).on('line', (l) => { try { steps.push(JSON.parse(l)); } catch { stderr += l + '\n'; } });
  return { steps, exited: new Promise<number>((r) => proc.on('exit', (code) => r(code ?? -1))), stderr: () => stderr, kill: () => proc.kill() };
}

const json = (r: Received): Record<string, unknown> => JSON.parse(r.payload) as Record<string, unknown>;

describe('OCPP gateway with the PyPI ocpp charge point', () => {
  it('BootNotification, RemoteStartTransaction from MQTT and its answer, Heartbeat', async () => {
    const cs = await client(b, { clientId: 'py-cs', username: 'cs', password: 'cs-pw' });
    const got = collect(cs);
    await cs.subscribeAsync('ocpp/cp/#', { qos: 1 });
    const cp = run('PY-CP-1', 'secret-1');
    try {
      await until(() => got.some((m) => m.topic === 'ocpp/cp/PY-CP-1'), 20000, 'BootNotification on MQTT (Python start-up included)');
      const boot = json(got.find((m) => m.topic === 'ocpp/cp/PY-CP-1')!);
      assert.equal(boot.Action, 'BootNotification');
      assert.deepEqual(boot.Payload, { chargePointModel: 'Petrel-Test', chargePointVendor: 'PyPI-ocpp' });
      assert.deepEqual(cp.steps[0], { step: 'connected', subprotocol: 'ocpp1.6' });
      const now = new Date().toISOString();
      await cs.publishAsync('ocpp/cs/PY-CP-1', JSON.stringify({ MessageTypeId: 3, UniqueId: boot.UniqueId, Payload: { status: 'Accepted', currentTime: now, interval: 300 } }), { qos: 1 });
      await until(() => cp.steps.some((s) => s.step === 'boot'), 5000, 'the charge point to get its CALLRESULT');
      assert.deepEqual(cp.steps.find((s) => s.step === 'boot'), { step: 'boot', status: 'Accepted', interval: 300, current_time: now });
      const row = await getJson<Record<string, unknown>>(b, '/api/v5/clients/PY-CP-1');
      assert.equal(row.proto_name, 'OCPP');
      assert.equal(row.keepalive, 300);

      await cs.publishAsync('ocpp/cs/PY-CP-1', JSON.stringify({ MessageTypeId: 2, UniqueId: 'rst-1', Action: 'RemoteStartTransaction', Payload: { idTag: 'TAG-42', connectorId: 1 } }), { qos: 1 });
      await until(() => got.some((m) => m.topic === 'ocpp/cp/PY-CP-1/Reply'), 5000, 'the answer on cp/{cid}/Reply');
      assert.deepEqual(json(got.find((m) => m.topic === 'ocpp/cp/PY-CP-1/Reply')!), { MessageTypeId: 3, UniqueId: 'rst-1', Payload: { status: 'Accepted' } });
      assert.deepEqual(cp.steps.find((s) => s.step === 'remote_start'), { step: 'remote_start', id_tag: 'TAG-42', connector_id: 1 });

      await until(() => got.filter((m) => m.topic === 'ocpp/cp/PY-CP-1').length === 2, 5000, 'the Heartbeat');
      const hb = json(got.filter((m) => m.topic === 'ocpp/cp/PY-CP-1')[1]!);
      assert.equal(hb.Action, 'Heartbeat');
      await cs.publishAsync('ocpp/cs/PY-CP-1', JSON.stringify({ MessageTypeId: 3, UniqueId: hb.UniqueId, Payload: { currentTime: now } }), { qos: 1 });
      assert.equal(await cp.exited, 0, cp.stderr());
      assert.ok(cp.steps.some((s) => s.step === 'heartbeat'), JSON.stringify(cp.steps));
    } finally {
      cp.kill();
      await end(cs);
    }
  });

  it('wrong credentials are refused with HTTP 401', async () => {
    const cp = run('PY-CP-1', 'wrong');
    try {
      assert.equal(await cp.exited, 0, cp.stderr());
      const r = cp.steps.find((s) => s.step === 'refused');
      assert.ok(r, JSON.stringify(cp.steps));
      assert.match(String(r.error), /401/);
    } finally {
      cp.kill();
    }
  });
});
