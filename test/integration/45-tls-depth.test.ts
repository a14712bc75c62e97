/**
 * TLS depth on ssl and wss listeners, black-box: a PKI made with openssl (test/support/pki.ts),
 * MQTT.js and mosquitto clients, `openssl s_client -status`, `openssl ocsp` answering OCSP
 * requests behind a loopback node:http server, a node:http server as a CRL distribution point.
 *
 * - a CRL file revokes one client certificate: refused (MQTT.js, mosquitto_sub), others connect;
 *   the file rewritten on disk refuses a newly revoked one, its open connection stays up
 * - config errors name the key
 * - a client of another CA is refused however its own distribution point answers
 * - the same through the certificate's CRL Distribution Point: fetched once, cached, kept when
 *   the point goes away; a point that never answered, or no CRL at all, refuses
 * - the same refusal on a wss listener
 * - peer_cert_as_username = cn and peer_cert_as_clientid = md5, seen in GET /api/v5/clients
 * - OCSP stapling: s_client sees a successful, good response; still stapled after the
 *   responder is stopped
 * - certificate and key swapped on disk: a new connection sees the new certificate while an
 *   old one still publishes and receives; a broken file keeps the current certificate
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { collect, end, requireBinary, sleep, startBroker, until, type TestBroker } from '../support/broker.js';
import { getJson } from '../support/api.js';
import { Pki, freePort, type Issued } from '../support/pki.js';

const pki = new Pki();
const server = pki.issue('server', { kind: 'server', cn: 'localhost' });
const good = pki.issue('device-1');
const revoked = pki.issue('device-2');

// The distribution point serves whatever pki.crl() wrote last.
let dpHits = 0;
const dp: Server = createServer((req, res) => {
  dpHits++;
  if (req.url !== '/ca.crl') { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(readFileSync(join(pki.dir, 'ca.crl')));
});
await new Promise<void>((r) => dp.listen(0, '127.0.0.1', r));
const dpUrl = `http://127.0.0.1:${(dp.address() as { port: number }).port}/ca.crl`;
const dpGood = pki.issue('dp-1', { crlUrl: dpUrl });
const dpRevoked = pki.issue('dp-2', { crlUrl: dpUrl });
const dpDead = pki.issue('dp-dead', { crlUrl: `http://127.0.0.1:${await freePort()}/gone.crl` });
pki.revoke(revoked);
pki.revoke(dpRevoked);
const crlFile = pki.crl();
after(() => { dp.close(); pki.remove(); });

const ca = readFileSync(pki.ca.crt);

function sslOptions(extra: object = {}): object {
  return { certfile: server.crt, keyfile: server.key, cacertfile: pki.ca.crt, verify: 'verify_peer', fail_if_no_peer_cert: true, ...extra };
}

async function brokerWith(listeners: object, more: object = {}): Promise<TestBroker> {
  return startBroker({ listeners, ...more });
}

/** 'connected' on CONNACK, 'refused' when the connection ends first. */
function tryMqtt(url: string, who: Issued | null, opts: IClientOptions = {}): Promise<{ result: 'connected' | 'refused'; client: MqttClient }> {
  const c = mqtt.connect(url, {
    reconnectPeriod: 0, connectTimeout: 8000, ca, rejectUnauthorized: true,
    ...(who ? { key: readFileSync(who.key), cert: readFileSync(who.crt) } : {}), ...opts,
  });
  collect(c);
  return new Promise((resolve) => {
    const done = (result: 'connected' | 'refused') => {
      c.removeAllListeners('connect'); c.removeAllListeners('close');
      if (result === 'refused') c.end(true);
      resolve({ result, client: c });
    };
    c.on('error', () => {});
    c.once('connect', () => done('connected'));
    c.once('close', () => done('refused'));
  });
}

async function expectMqtt(url: string, who: Issued, want: 'connected' | 'refused', opts: IClientOptions = {}): Promise<MqttClient> {
  const { result, client } = await tryMqtt(url, who, opts);
  assert.equal(result, want, `${who.name} at ${url}`);
  if (want === 'refused') client.end(true);
  return client;
}

function run(cmd: string, args: string[], input = ''): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
    p.stdin?.end(input);
  });
}

/** mosquitto_sub with a client certificate: subscribes and exits once the broker acknowledged (-E). */
function mosquittoSub(port: number, who: Issued): Promise<{ code: number; out: string }> {
  const bin = requireBinary('/usr/bin/mosquitto_sub', 'mosquitto-clients');
  return run(bin, ['-h', '127.0.0.1', '-p', String(port), '--cafile', pki.ca.crt, '--cert', who.crt, '--key', who.key,
    '-t', 'tls/depth', '-E', '-W', '10', '-i', `sub-${who.name}`]);
}

test('CRL file: the revoked client certificate is refused (MQTT.js and mosquitto_sub), the others connect', async () => {
  const b = await brokerWith({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions({ crlfile: crlFile }) } } });
  try {
    const url = `mqtts://127.0.0.1:${b.node.port('ssl:default')}`;
    const ok = await expectMqtt(url, good, 'connected');
    await expectMqtt(url, revoked, 'refused');
    await expectMqtt(url, revoked, 'refused', { protocolVersion: 5 });
    await end(ok);
    const subGood = await mosquittoSub(b.node.port('ssl:default'), good);
    assert.equal(subGood.code, 0, subGood.out);
    const subRevoked = await mosquittoSub(b.node.port('ssl:default'), revoked);
    assert.notEqual(subRevoked.code, 0, 'mosquitto_sub with the revoked certificate must fail');
  } finally {
    await b.stop();
  }
});

test('CRL file rewritten on disk: a newly revoked certificate is refused from then on; its open connection stays up', async () => {
  const late = pki.issue('device-late');
  const live = join(pki.dir, 'live.crl');
  copyFileSync(crlFile, live);
  const b = await brokerWith({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions({ crlfile: live }) } } });
  try {
    const url = `mqtts://127.0.0.1:${b.node.port('ssl:default')}`;
    const open = await expectMqtt(url, late, 'connected', { clientId: 'late-open' });
    pki.revoke(late);
    pki.crl(live);
    await until(async () => (await tryMqtt(url, late, { clientId: 'late-new' }).then((r) => { r.client.end(true); return r.result; })) === 'refused',
      15_000, 'the new CRL to refuse the certificate');
    await open.subscribeAsync('crl/still', { qos: 1 });
    await open.publishAsync('crl/still', 'up', { qos: 1 });
    await until(() => collect(open).some((m) => m.payload === 'up'), 5000, 'the open connection to keep working');
    await end(await expectMqtt(url, good, 'connected'));
    // A broken CRL file: the last good CRL stays in force.
    writeFileSync(live, 'garbage');
    await sleep(1200);
    await expectMqtt(url, late, 'refused');
    await end(await expectMqtt(url, good, 'connected'), open);
  } finally {
    await b.stop();
  }
});

test('config errors name the key: CRL without verify_peer, stapling without responder_url, a crlfile that is not a CRL', async () => {
  const ssl = (o: object) => ({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: { certfile: server.crt, keyfile: server.key, cacertfile: pki.ca.crt, ...o } } } });
  await assert.rejects(brokerWith(ssl({ enable_crl_check: true })), /ssl_options\.enable_crl_check needs ssl_options\.verify = verify_peer/);
  await assert.rejects(brokerWith(ssl({ ocsp: { enable_ocsp_stapling: true, issuer_pem: pki.ca.crt } })), /ssl_options\.ocsp\.responder_url must be an http/);
  await assert.rejects(brokerWith(ssl({ ocsp: { enable_ocsp_stapling: true, responder_url: 'http://127.0.0.1:1' } })), /ssl_options\.ocsp\.issuer_pem is required/);
  await assert.rejects(brokerWith(ssl({ verify: 'verify_peer', crlfile: server.crt })), /cannot load crlfile: .*PEM without an "X509 CRL" block/);
  await assert.rejects(brokerWith(ssl({ verify: 'verify_peer', crlfile: join(pki.dir, 'nope.crl') })), /cannot load crlfile .*no such file/);
});

for (const caName of ['Petrel Test CA', 'Impostor CA']) {
test(`CRL distribution point: a client of another CA ("${caName}") whose point serves that CA's own CRL is refused`, async () => {
  // The other CA's client sends the chain leaf + its CA and names a distribution point that CA
  // controls, which serves a CRL it signed. Once our CA's CRL is known, OpenSSL's check meets
  // either a CRL of the same name with the wrong signature or no CRL at all for the issuer;
  // neither may pass for "CRL not fetched yet".
  const impostor = new Pki(caName);
  try {
    const crl = impostor.crl();
    const srv = createServer((_req, res) => { res.writeHead(200).end(readFileSync(crl)); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const leaf = impostor.issue('intruder', { crlUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}/ca.crl` });
    const chain = join(impostor.dir, 'intruder-chain.crt');
    writeFileSync(chain, Buffer.concat([readFileSync(leaf.crt), readFileSync(impostor.ca.crt)]));
    const b = await brokerWith({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions({ enable_crl_check: true }) } } });
    try {
      const url = `mqtts://127.0.0.1:${b.node.port('ssl:default')}`;
      await end(await expectMqtt(url, dpGood, 'connected')); // our CA's CRL is now known
      await expectMqtt(url, { ...leaf, crt: chain }, 'refused');
    } finally {
      await b.stop();
      srv.close();
    }
  } finally {
    impostor.remove();
  }
});
}

test('CRL distribution point: fetched once and cached; revoked refused; unreachable point or no CRL refused; kept when the point goes away', async () => {
  const b = await brokerWith(
    { ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions({ enable_crl_check: true }) } } },
    { crl_cache: { refresh_interval: '1s', http_timeout: '2s' } });
  try {
    const url = `mqtts://127.0.0.1:${b.node.port('ssl:default')}`;
    dpHits = 0;
    const first = await expectMqtt(url, dpGood, 'connected');
    assert.equal(dpHits, 1, 'the first certificate naming the point fetched it');
    await expectMqtt(url, dpRevoked, 'refused');
    const second = await expectMqtt(url, dpGood, 'connected');
    assert.ok(dpHits <= 2, `cached, not fetched per connection (${dpHits} fetches)`);
    await expectMqtt(url, dpDead, 'refused'); // its point never answered: status undetermined
    await expectMqtt(url, good, 'refused'); // no distribution point and no crlfile: undetermined
    await end(first, second);
    // A revocation published at the point is picked up by the next refresh (crl_cache.refresh_interval 1s).
    const soon = pki.issue('dp-soon', { crlUrl: dpUrl });
    const held = await expectMqtt(url, soon, 'connected', { clientId: 'soon-held' });
    pki.revoke(soon);
    pki.crl();
    await until(async () => (await tryMqtt(url, soon, { clientId: 'soon-new' }).then((r) => { r.client.end(true); return r.result; })) === 'refused',
      10_000, 'the refreshed CRL to refuse dp-soon');
    assert.equal(held.connected, true, 'the connection made before the revocation stays up');
    await end(held);
    // The point goes away; refreshes fail; the last CRL still decides.
    await new Promise<void>((r) => { dp.close(() => r()); dp.closeAllConnections(); });
    await sleep(1500);
    const third = await expectMqtt(url, dpGood, 'connected');
    await expectMqtt(url, dpRevoked, 'refused');
    await end(third);
  } finally {
    await b.stop();
  }
});

test('wss: the same CRL refusal on a secure WebSocket listener', async () => {
  const b = await brokerWith({ wss: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions({ crlfile: crlFile }) } } });
  try {
    const url = `wss://127.0.0.1:${b.node.port('wss:default')}/mqtt`;
    const ok = await expectMqtt(url, good, 'connected');
    await expectMqtt(url, revoked, 'refused');
    await end(ok);
  } finally {
    await b.stop();
  }
});

test('peer_cert_as_username = cn and peer_cert_as_clientid = md5 replace what CONNECT says (GET /api/v5/clients)', async () => {
  const b = await brokerWith(
    { ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions() } } },
    { mqtt: { peer_cert_as_username: 'cn', peer_cert_as_clientid: 'md5' } });
  try {
    const url = `mqtts://127.0.0.1:${b.node.port('ssl:default')}`;
    const c = await expectMqtt(url, good, 'connected', { username: 'someone-else', clientId: 'chosen-by-client' });
    const md5 = createHash('md5').update(new X509Certificate(readFileSync(good.crt)).raw).digest('hex');
    const rows = await getJson<{ data: Array<{ clientid: string; username: string | null }> }>(b, '/api/v5/clients');
    assert.deepEqual(rows.data.map((r) => [r.clientid, r.username]), [[md5, 'device-1']]);
    // The TCP listener has no certificate: CONNECT's own names stand.
    const plain = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId: 'plain-1', username: 'u1', reconnectPeriod: 0 });
    const all = await getJson<{ data: Array<{ clientid: string; username: string | null }> }>(b, '/api/v5/clients');
    assert.ok(all.data.some((r) => r.clientid === 'plain-1' && r.username === 'u1'));
    await end(c, plain);
  } finally {
    await b.stop();
  }
});

test('peer_cert_as_username = dn and = crt, peer_cert_as_clientid = pem, on ssl and wss; a client with an empty id is named by its certificate', async () => {
  const der = new X509Certificate(readFileSync(good.crt)).raw;
  for (const [user, expected] of [['dn', 'CN=device-1,O=Petrel Test'], ['crt', readFileSync(good.crt, 'latin1')]] as const) {
    const b = await brokerWith(
      { ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions() } },
        wss: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: sslOptions() } } },
      { mqtt: { peer_cert_as_username: user, peer_cert_as_clientid: 'pem' } });
    try {
      for (const url of [`mqtts://127.0.0.1:${b.node.port('ssl:default')}`, `wss://127.0.0.1:${b.node.port('wss:default')}/mqtt`]) {
        const c = await expectMqtt(url, good, 'connected', { clientId: '', protocolVersion: 4, clean: true, username: 'ignored' } as IClientOptions);
        const rows = await getJson<{ data: Array<{ clientid: string; username: string | null }> }>(b, '/api/v5/clients');
        assert.deepEqual(rows.data.map((r) => [r.clientid, r.username]), [[der.toString('base64'), expected]], url);
        await end(c);
        await until(async () => (await getJson<{ data: unknown[] }>(b, '/api/v5/clients')).data.length === 0, 5000, 'the client to leave');
      }
    } finally {
      await b.stop();
    }
  }
});

async function stapled(port: number): Promise<string> {
  const { out } = await run('/usr/bin/openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-status', '-CAfile', pki.ca.crt]);
  return out;
}

test('OCSP stapling: s_client -status sees a successful, good response; still stapled after the responder is stopped', async () => {
  const signer = pki.issue('ocsp-signer', { kind: 'ocsp' });
  const responder = await pki.ocspResponder(signer);
  const b = await brokerWith({
    ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: {
      certfile: server.crt, keyfile: server.key,
      ocsp: { enable_ocsp_stapling: true, responder_url: responder.url, issuer_pem: pki.ca.crt, refresh_interval: '1s', refresh_http_timeout: '2s' },
    } } },
  });
  try {
    const port = b.node.port('ssl:default');
    let out = '';
    await until(async () => (out = await stapled(port)).includes('OCSP Response Status: successful'), 15_000, 'a stapled OCSP response');
    assert.match(out, /Cert Status: good/);
    assert.match(out, /Next Update:/);
    assert.ok(responder.served() > 0, 'the staple came from the loopback responder');
    await responder.stop();
    await sleep(2500); // at least one failed refresh
    out = await stapled(port);
    assert.match(out, /OCSP Response Status: successful/);
    assert.match(out, /Cert Status: good/);
  } finally {
    await responder.stop();
    await b.stop();
  }
});

test('certificate reload: swapped cert+key served to new connections; an old connection still publishes and receives; a broken file keeps the current one', async () => {
  const dir = pki.dir;
  const live = { crt: join(dir, 'live.crt'), key: join(dir, 'live.key') };
  copyFileSync(server.crt, live.crt);
  copyFileSync(server.key, live.key);
  const next = pki.issue('server-next', { kind: 'server', cn: 'localhost' });
  const b = await brokerWith({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: { certfile: live.crt, keyfile: live.key } } } });
  const fingerprint = (c: MqttClient): string => ((c.stream as TLSSocket).getPeerCertificate().fingerprint256);
  const fpOf = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;
  try {
    const url = `mqtts://127.0.0.1:${b.node.port('ssl:default')}`;
    const old = await expectMqtt(url, good, 'connected', { clientId: 'old' });
    assert.equal(fingerprint(old), fpOf(server.crt));
    // Key first, then certificate, as a careless rotation does: the mismatched pair in between is refused and logged.
    writeFileSync(live.key, readFileSync(next.key));
    writeFileSync(live.crt, readFileSync(next.crt));
    let fresh: MqttClient | null = null;
    await until(async () => {
      const c = await expectMqtt(url, good, 'connected', { clientId: 'fresh' });
      if (fingerprint(c) === fpOf(next.crt)) { fresh = c; return true; }
      await end(c);
      return false;
    }, 15_000, 'a new connection with the new certificate');
    await old.subscribeAsync('reload/echo', { qos: 1 });
    await old.publishAsync('reload/echo', 'still here', { qos: 1 });
    await until(() => collect(old).some((m) => m.payload === 'still here'), 5000, 'the old connection to receive its message');
    // A broken certificate file: the current (new) one is kept.
    writeFileSync(live.crt, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await sleep(1200);
    const after = await expectMqtt(url, good, 'connected', { clientId: 'after' });
    assert.equal(fingerprint(after), fpOf(next.crt));
    await end(old, fresh!, after);
  } finally {
    await b.stop();
  }
});
