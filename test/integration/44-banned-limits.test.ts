/**
 * 44 — the banned list (/api/v5/banned, EMQX's six kinds, persisted, bootstrap file, kicks),
 * flapping detection, and the listener rate limits max_conn_rate, messages_rate and bytes_rate.
 *
 * v3 vs v5: a banned client gets CONNACK 0x8A (v5) or return code 5 (v3.1.1); a connected
 * client kicked by a new ban gets DISCONNECT 0x98 (v5) or a closed socket (v3).
 * Rate limits slow a publisher down (reading paused) and never drop: received == sent.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, repoRoot, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { api, getJson, metrics, clientInfo } from '../support/api.js';

const tls = (f: string): string => join(repoRoot(), 'test', 'fixtures', 'tls', f);
const ssl = { certfile: tls('server.crt'), keyfile: tls('server.key'), cacertfile: tls('ca.crt') };

interface BanRow { as: string; who: string; by: string; reason: string; at: string; until: string }
interface BanPage { data: BanRow[]; meta: { page: number; limit: number; count: number; hasnext: boolean } }

let b: TestBroker;
before(async () => {
  b = await startBroker({
    flapping_detect: { enable: true, max_count: 4, window_time: '20s', ban_time: '3s' },
    listeners: {
      tcp: {
        msgs: { bind: '127.0.0.1:0', messages_rate: '40/s' },
        bytes: { bind: '127.0.0.1:0', bytes_rate: '16KB/s' },
        conns: { bind: '127.0.0.1:0', max_conn_rate: '5/s' },
        connsnet: { bind: '127.0.0.1:0', max_conn_rate: '5/s', raw_sockets: false },
      },
      ssl: {
        default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl, messages_rate: '40/s' },
        gate: { bind: '127.0.0.1:0', ssl_options: ssl, max_conn_rate: '3/10s' },
      },
      ws: { default: { messages_rate: '40/s' } },
      wss: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl, messages_rate: '40/s' } },
    },
  });
});
after(async () => { await b.stop(); });

const post = (body: unknown) => api(b, '/api/v5/banned', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const del = (as: string, who: string) => api(b, `/api/v5/banned/${as}/${encodeURIComponent(who)}`, { method: 'DELETE' });
const uid = (p: string): string => `${p}-${Math.random().toString(16).slice(2, 10)}`;

/** CONNECT over a raw socket: the CONNACK code (v5 reason code, v3 return code), or 'closed'. */
async function connackCode(port: number, v: 4 | 5, opts: Record<string, unknown> = {}): Promise<number | 'closed'> {
  const r = await rawClient(port, v);
  try {
    const ack = await r.connect(opts);
    return v === 5 ? ack.reasonCode : ack.returnCode;
  } catch { return 'closed'; } finally { r.destroy(); }
}

describe('banned list: each kind refuses the client it names before authentication', () => {
  for (const v of [4, 5] as const) {
    const refused = v === 5 ? 0x8a : 5;
    const cases: Array<[string, (id: string) => string, Record<string, unknown>]> = [
      ['clientid', (id) => id, {}],
      ['username', () => 'ban-user', { username: 'ban-user' }],
      ['peerhost', () => '127.0.0.1', {}],
      ['clientid_re', (id) => `^${id.slice(0, 6)}`, {}],
      ['username_re', () => 'evil', { username: 'an-evil-one' }],
      ['peerhost_net', () => '127.0.0.0/8', {}],
    ];
    for (const [as, whoOf, extra] of cases) {
      it(`v${v === 5 ? '5' : '3.1.1'}: ${as} → CONNACK ${v === 5 ? '0x8A' : '5'}; deleted → accepted`, async () => {
        const id = uid(`b${v}${as.slice(0, 3)}`);
        const who = whoOf(id);
        const r = await post({ as, who, reason: 'test' });
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal((await r.json() as BanRow).who, who);
        assert.equal(await connackCode(b.port, v, { clientId: id, ...extra }), refused);
        assert.equal((await del(as, who)).status, 204);
        assert.equal(await connackCode(b.port, v, { clientId: id, ...extra }), 0);
      });
    }
  }

  it('a client the ban does not name still connects', async () => {
    assert.equal((await post({ as: 'username_re', who: '^only-this' })).status, 200);
    assert.equal(await connackCode(b.port, 5, { clientId: uid('free'), username: 'someone-else' }), 0);
    assert.equal((await del('username_re', '^only-this')).status, 204);
  });
});

describe('a new ban kicks matching connected clients', () => {
  it('v5 by username: DISCONNECT 0x98, session gone; v3 by client id pattern: socket closed; others stay', async () => {
    const v5 = await client(b, { clientId: uid('kick5'), username: 'kick-me', protocolVersion: 5 });
    const v3 = await client(b, { clientId: uid('kick3'), protocolVersion: 4 });
    const other = await client(b, { clientId: uid('stay'), username: 'stay', protocolVersion: 5 });
    const reason = new Promise<number | undefined>((r) => v5.once('disconnect', (p) => r(p.reasonCode)));
    const closed3 = new Promise<void>((r) => v3.once('close', () => r()));
    assert.equal((await post({ as: 'username', who: 'kick-me' })).status, 200);
    assert.equal(await reason, 0x98);
    assert.equal(await clientInfo(b, v5.options.clientId!), undefined);
    assert.ok(other.connected);
    assert.equal((await post({ as: 'clientid_re', who: `^${v3.options.clientId}$` })).status, 200);
    await closed3;
    assert.ok(other.connected, 'a pattern matching one client id kicks only it');
    await del('username', 'kick-me');
    await del('clientid_re', `^${v3.options.clientId}$`);
    await end(v5, v3, other);
  });
});

describe('expiry, REST shapes and errors', () => {
  it('a ban with a short until refuses, then expires', async () => {
    const id = uid('exp');
    const untilSec = Math.floor(Date.now() / 1000) + 2;
    const r = await post({ as: 'clientid', who: id, until: untilSec });
    assert.equal(r.status, 200);
    const row = await r.json() as BanRow;
    assert.equal(row.until, new Date(untilSec * 1000).toISOString().replace('.000Z', '+00:00'));
    assert.equal(await connackCode(b.port, 5, { clientId: id }), 0x8a);
    await until((async () => (await connackCode(b.port, 5, { clientId: id })) === 0), 5000, 'the ban to expire');
    const list = await getJson<BanPage>(b, `/api/v5/banned?clientid=${id}`);
    assert.equal(list.data.length, 0, 'expired bans are not listed');
  });

  it('list is paged; filters; duplicates, bad input and unknown bans are refused with EMQX codes', async () => {
    assert.equal((await api(b, '/api/v5/banned', { method: 'DELETE' })).status, 204);
    for (let i = 0; i < 5; i++) assert.equal((await post({ as: 'clientid', who: `page-${i}`, by: 'me', reason: `r${i}` })).status, 200);
    const p2 = await getJson<BanPage>(b, '/api/v5/banned?page=2&limit=2');
    assert.deepEqual(p2.meta, { page: 2, limit: 2, count: 5, hasnext: true });
    assert.deepEqual(p2.data.map((r) => r.who), ['page-2', 'page-3']);
    const row = p2.data[0]!;
    assert.deepEqual({ ...row, at: 'x' }, { as: 'clientid', who: 'page-2', by: 'me', reason: 'r2', at: 'x', until: 'infinity' });
    assert.match(row.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.deepEqual((await getJson<BanPage>(b, '/api/v5/banned?like_clientid=-[34]$')).data.map((r) => r.who), ['page-3', 'page-4']);
    assert.equal((await api(b, '/api/v5/banned?clientid=a&username=b')).status, 400);

    const dup = await post({ as: 'clientid', who: 'page-1' });
    assert.equal(dup.status, 409);
    assert.equal((await dup.json() as { code: string }).code, 'ALREADY_EXISTS');
    for (const [body, want] of [
      [{ as: 'peerhost', who: '300.1.1.1' }, /not an IP address/],
      [{ as: 'peerhost_net', who: '10.0.0.0/40' }, /out of range/],
      [{ as: 'clientid_re', who: '([' }, /not a regular expression/],
      [{ as: 'clientid', who: 'old', until: '2001-01-01T00:00:00Z' }, /already passed/],
      [{ as: 'ip', who: 'x' }, /as/],
      [{ as: 'clientid' }, /who/],
    ] as const) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match((await r.json() as { message: string }).message, want);
    }
    const missing = await del('clientid', 'never-banned');
    assert.equal(missing.status, 404);
    assert.equal((await missing.json() as { code: string }).code, 'NOT_FOUND');
    assert.equal((await del('peerhost_net', '10.0.0.0/8')).status, 404);
    assert.equal((await api(b, '/api/v5/banned/nonsense/x', { method: 'DELETE' })).status, 400);

    assert.equal((await post({ as: 'peerhost_net', who: '10.1.2.3/8' })).status, 200);
    assert.equal((await del('peerhost_net', '10.0.0.0/8')).status, 204, 'a network is normalized and deleted by its percent-encoded CIDR');
    assert.equal((await api(b, '/api/v5/banned', { method: 'DELETE' })).status, 204);
    assert.equal((await getJson<BanPage>(b, '/api/v5/banned')).meta.count, 0);
  });
});

describe('persistence and the bootstrap file', () => {
  it('bans survive a restart on the same data dir; the bootstrap file loads only into an empty list', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petrel-banned-'));
    const csv = join(dir, 'banned.csv');
    writeFileSync(csv, 'as,who,reason,at,until,by\nclientid,boot-c1,from file,2021-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,boot\nusername,boot-u1,,,,\nbogus,x\npeerhost_net,10.0.0.0/33\n');
    const data = join(dir, 'data');
    let n = await startBroker({ banned: { bootstrap_file: csv } }, { dataDir: data, keepData: true });
    try {
      let list = await getJson<BanPage>(n, '/api/v5/banned');
      assert.deepEqual(list.data.map((r) => [r.as, r.who, r.by, r.reason]), [['clientid', 'boot-c1', 'boot', 'from file'], ['username', 'boot-u1', 'mgmt_api', '']]);
      assert.equal(await connackCode(n.port, 4, { clientId: 'boot-c1' }), 5);
      assert.equal((await api(n, '/api/v5/banned/username/boot-u1', { method: 'DELETE' })).status, 204);
      assert.equal((await api(n, '/api/v5/banned', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: 'username_re', who: '^persist' }) })).status, 200);
      await n.stop();
      n = await startBroker({ banned: { bootstrap_file: csv } }, { dataDir: data, keepData: true });
      list = await getJson<BanPage>(n, '/api/v5/banned');
      assert.deepEqual(list.data.map((r) => r.who).sort(), ['^persist', 'boot-c1'], 'stored bans kept, the deleted bootstrap ban not re-added');
      assert.equal(await connackCode(n.port, 5, { clientId: uid('p'), username: 'persistent' }), 0x8a);
    } finally {
      await n.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable bootstrap file does not stop the node', async () => {
    const n = await startBroker({ banned: { bootstrap_file: '/nonexistent/banned.csv' } });
    try {
      assert.equal(await connackCode(n.port, 5, { clientId: uid('ok') }), 0);
    } finally { await n.stop(); }
  });
});

describe('flapping detection', () => {
  it('max_count CONNECTs within window_time ban the client id for ban_time (by "flapping detector")', async () => {
    const before = (await metrics(b))['client.flapping'] ?? 0;
    const id = uid('flap');
    for (let i = 0; i < 3; i++) assert.equal(await connackCode(b.port, 5, { clientId: id }), 0, `connect ${i + 1}`);
    assert.equal(await connackCode(b.port, 5, { clientId: id }), 0x8a, 'the 4th CONNECT in the window');
    assert.equal(await connackCode(b.port, 4, { clientId: id }), 5);
    assert.equal(await connackCode(b.port, 5, { clientId: uid('flap-other') }), 0, 'other client ids are not affected');
    const row = (await getJson<BanPage>(b, `/api/v5/banned?clientid=${id}`)).data[0];
    assert.deepEqual([row?.by, row?.reason], ['flapping detector', 'flapping is detected']);
    assert.equal((await metrics(b))['client.flapping'], before + 1);
    await until((async () => (await connackCode(b.port, 5, { clientId: id })) === 0), 6000, 'the flapping ban (3s) to end');
  });
});

describe('max_conn_rate', () => {
  for (const [id, kind] of [['tcp:conns', 'raw TCP handles'], ['tcp:connsnet', 'net.Socket']] as const) {
    it(`${kind}: a burst beyond the rate is refused at accept and counted`, async () => {
      const before = (await metrics(b))['listener.rejected.max_conn_rate'] ?? 0;
      const port = b.node.port(id);
      const results = await Promise.all(Array.from({ length: 20 }, () => connackCode(port, 5, { clientId: uid('rate') })));
      const accepted = results.filter((r) => r === 0).length;
      const refused = results.filter((r) => r === 'closed').length;
      console.log(`# max_conn_rate 5/s on ${kind}, 20 at once: accepted ${accepted}, refused ${refused}`);
      assert.equal(accepted + refused, 20);
      assert.ok(accepted >= 5 && accepted <= 7, `accepted ${accepted}: the bucket (5) plus what refilled during the burst`);
      await until(async () => (await metrics(b))['listener.rejected.max_conn_rate'] === before + refused, 3000, 'the refusals counted');
      await sleep(1100);
      assert.equal(await connackCode(port, 5, { clientId: uid('rate') }), 0, 'accepted again once the bucket refilled');
    });
  }

  it('ssl: refused before the TLS handshake', async () => {
    const port = b.node.port('ssl:gate');
    const tries = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((resolve) => {
      const c = mqtt.connect({ protocol: 'mqtts', host: '127.0.0.1', port, ca: [readFileSync(ssl.cacertfile)], rejectUnauthorized: false, reconnectPeriod: 0, connectTimeout: 4000, clientId: uid('tls') });
      c.once('connect', () => { c.end(true); resolve('ok'); });
      c.once('error', () => { c.end(true); resolve('refused'); });
      c.once('close', () => resolve('refused'));
    })));
    const ok = tries.filter((t) => t === 'ok').length;
    assert.equal(ok, 3, `3/10s lets 3 of 6 through (${tries.join(',')})`);
    const st = await getJson<Array<{ id: string; rejectedRate: number; handshakeErrors: number }>>(b, '/api/v5/listeners');
    const row = st.find((l) => l.id === 'ssl:gate')!;
    assert.equal(row.rejectedRate, 3);
    assert.equal(row.handshakeErrors, 0, 'no handshake was started for the refused ones');
  });
});

/** Publishes `count` QoS 1 messages of `size` bytes as fast as the client can, through `url`; resolves when all are acknowledged. */
async function flood(url: string, count: number, size: number, opts: IClientOptions = {}): Promise<{ ms: number; received: number }> {
  const topic = uid('flood');
  const sub = await client(b, { clientId: uid('sub'), protocolVersion: 5 });
  await sub.subscribeAsync(topic, { qos: 1 });
  const got = collect(sub);
  const pub = await new Promise<MqttClient>((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 4000, clientId: uid('pub'), protocolVersion: 5, rejectUnauthorized: false, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  const payload = Buffer.alloc(size, 7);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: count }, (_, i) => pub.publishAsync(topic, payload, { qos: 1, properties: { userProperties: { i: String(i) } } })));
  const ms = Date.now() - t0;
  await until(() => got.length >= count, 10_000, `${count} messages at the subscriber`);
  await sleep(100);
  const received = got.length;
  await end(pub, sub);
  return { ms, received };
}

describe('messages_rate and bytes_rate: the publisher is slowed, nothing is dropped', () => {
  it('tcp messages_rate 40/s: 160 QoS 1 messages take ≥ (160 − 40) / 40 s', async () => {
    const before = (await metrics(b))['client.rate_limited'];
    const { ms, received } = await flood(`mqtt://127.0.0.1:${b.node.port('tcp:msgs')}`, 160, 10);
    console.log(`# messages_rate 40/s: 160 messages in ${ms} ms = ${(160 / (ms / 1000)).toFixed(1)}/s (${((160 - 40) / (ms / 1000)).toFixed(1)}/s after the initial bucket)`);
    assert.equal(received, 160);
    assert.ok(ms >= 2900, `took ${ms} ms, expected ≥ 3000 (less 100 of timer slack)`);
    assert.ok(ms <= 8000, `took ${ms} ms: far slower than the rate`);
    assert.ok((await metrics(b))['client.rate_limited'] > before, 'pauses counted');
  });

  it('tcp bytes_rate 16KB/s: 48 messages of 1 KiB take ≥ (48 − 16) / 16 s', async () => {
    const { ms, received } = await flood(`mqtt://127.0.0.1:${b.node.port('tcp:bytes')}`, 48, 1024);
    console.log(`# bytes_rate 16KB/s: 48 KiB (+ headers) in ${ms} ms = ${(48 / (ms / 1000)).toFixed(1)} KiB/s`);
    assert.equal(received, 48);
    assert.ok(ms >= 1900, `took ${ms} ms, expected ≥ 2000`);
    assert.ok(ms <= 7000, `took ${ms} ms`);
  });

  for (const [t, url] of [['ssl', () => `mqtts://127.0.0.1:${b.node.port('ssl:default')}`], ['ws', () => `ws://127.0.0.1:${b.wsPort}/mqtt`], ['wss', () => `wss://127.0.0.1:${b.node.port('wss:default')}/mqtt`]] as const) {
    it(`${t} messages_rate 40/s: 80 messages take ≥ 1 s, all delivered`, async () => {
      const { ms, received } = await flood(url(), 80, 10);
      console.log(`# ${t} messages_rate 40/s: 80 messages in ${ms} ms`);
      assert.equal(received, 80);
      assert.ok(ms >= 900, `took ${ms} ms`);
    });
  }

  it('a listener without limits is not slowed', async () => {
    const { ms, received } = await flood(b.url, 160, 10);
    assert.equal(received, 160);
    assert.ok(ms < 2500, `took ${ms} ms`);
  });
});
