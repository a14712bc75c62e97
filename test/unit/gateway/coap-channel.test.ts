/**
 * The CoAP channel without a socket: a recording peer in place of the UDP endpoint, a real
 * broker and client manager (test/unit/broker/helpers.ts). Requests in, answers out — duplicate
 * detection, the connection token, heartbeat and retransmission driven by tick(now).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { makeBroker } from '../broker/helpers.js';
import { GatewayContext } from '../../../broker/src/gateway/context.js';
import { GatewayMetrics } from '../../../broker/src/gateway/metrics.js';
import { parseCoap } from '../../../broker/src/gateway/coap/config.js';
import { CoapChannel, type CoapPeer, type CoapShared } from '../../../broker/src/gateway/coap/channel.js';
import { silentLogger } from '../../../broker/src/log.js';

class Peer implements CoapPeer {
  readonly remoteAddress = '10.0.0.9';
  readonly remotePort = 5000;
  readonly listener = 'coap:udp:default';
  readonly out: ParsedPacket[] = [];
  closed = false;
  send(buf: Buffer): boolean { this.out.push(parse(buf)); return true; }
  close(): void { this.closed = true; }
  take(): ParsedPacket[] { return this.out.splice(0); }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(raw: Record<string, unknown> = {}) {
  const tb = makeBroker();
  const parsed = parseCoap(raw);
  assert.ok(parsed.ok && parsed.value !== null);
  const cfg = parsed.value!;
  const ctx = new GatewayContext({
    name: 'coap', protoName: 'CoAP', protoVer: 1, broker: tb.broker, clients: tb.clients, cfg, metrics: new GatewayMetrics(), log: silentLogger(),
    limits: { maxTopicLevels: 128, maxQosAllowed: 2, maxClientIdLen: 23, sessionExpirySec: 7200, maxBuffered: 100, retryIntervalMs: 0 },
  });
  const shared: CoapShared = { ctx, cfg, adopt: () => null };
  const peer = new Peer();
  const ch = new CoapChannel(peer, shared, cfg.listeners[0]!, Date.now());
  let mid = 100;
  const req = (code: string, path: string, query: string[] = [], o: { mid?: number; observe?: boolean; token?: Buffer; payload?: string } = {}): number => {
    const m = o.mid ?? mid++;
    const options = [
      ...(o.observe ? [{ name: 'Observe', value: Buffer.alloc(0) }] : []),
      ...path.split('/').filter(Boolean).map((s) => ({ name: 'Uri-Path', value: Buffer.from(s) })),
      ...query.map((q) => ({ name: 'Uri-Query', value: Buffer.from(q) })),
    ];
    ch.datagram(generate({ code, confirmable: true, messageId: m, token: o.token ?? Buffer.from([m & 0xff]), options: options as never, payload: Buffer.from(o.payload ?? '') }));
    return m;
  };
  return { tb, ch, peer, req, ctx };
}

test('a repeated CON request is answered again from memory, not executed twice', async () => {
  const { tb, peer, req } = setup();
  let published = 0;
  const orig = tb.broker.publish.bind(tb.broker);
  tb.broker.publish = (m) => { published++; return orig(m); };
  const m = req('POST', '/ps/a', ['c=dup'], { payload: 'x' });
  await turn(); await turn();
  const first = peer.take();
  assert.deepEqual(first.map((p) => [p.code, p.ack, p.messageId]), [['2.04', true, m]]);
  req('POST', '/ps/a', ['c=dup'], { mid: m, payload: 'x' });
  const again = peer.take();
  assert.deepEqual(again.map((p) => [p.code, p.messageId]), [['2.04', m]]);
  assert.equal(published, 1);
});

test('connection mode: POST gives a token; requests without it 4.00, with a wrong one 4.01; DELETE ends the client', async () => {
  const { tb, ch, peer, req } = setup({ connection_required: true });
  req('POST', '/mqtt/connection', ['clientid=c1']);
  await turn(); await turn();
  const [created] = peer.take();
  assert.equal(created!.code, '2.01');
  const token = created!.payload.toString();
  assert.equal(tb.clients.get('c1'), ch);
  req('POST', '/ps/t', ['c=c1']);
  assert.equal(peer.take()[0]!.code, '4.00');
  req('POST', '/ps/t', ['c=c1', 't=nope']);
  assert.equal(peer.take()[0]!.code, '4.01');
  req('POST', '/ps/t', ['c=c1', `t=${token}`]);
  assert.equal(peer.take()[0]!.code, '2.04');
  req('DELETE', '/mqtt/connection', ['c=c1', `t=${token}`]);
  assert.equal(peer.take()[0]!.code, '2.02');
  assert.equal(ch.state, 'closed');
  assert.equal(tb.clients.get('c1'), undefined);
});

test('heartbeat: closed after 1.5 × heartbeat of silence, not before; a peer that never connects after idle_timeout', async () => {
  const { ch, req } = setup({ heartbeat: '10s', idle_timeout: '5s' });
  const t0 = Date.now();
  ch.tick(t0 + 4000);
  assert.equal(ch.state, 'idle');
  req('POST', '/mqtt/connection', ['clientid=hb']);
  await turn(); await turn();
  assert.equal(ch.state, 'connected');
  const t1 = ch.lastRx;
  ch.tick(t1 + 14_000);
  assert.equal(ch.state, 'connected');
  ch.tick(t1 + 15_500);
  assert.equal(ch.state, 'closed');
  const other = setup({ idle_timeout: '5s' });
  other.ch.tick(Date.now() + 6000);
  assert.equal(other.ch.state, 'closed');
});

test('CON notifications: resent on tick with doubling waits, 4 times, then given up with the observation', async () => {
  const { tb, ch, peer, req } = setup();
  const token = Buffer.from('obs');
  req('GET', '/ps/n', ['c=retx'], { observe: true, token });
  await turn(); await turn();
  assert.equal(peer.take()[0]!.code, '2.05');
  tb.broker.publish(tb.broker.newMessage('n', Buffer.from('hi'), 1, false, null, 'x'));
  const [n] = peer.take();
  assert.equal(n!.confirmable, true);
  let now = Date.now();
  const sends: number[] = [];
  for (let i = 0; i < 240; i++) { // 120 s: past MAX_TRANSMIT_WAIT (93 s)
    now += 500;
    ch.tick(now);
    ch.lastRx = now; // keep the heartbeat from ending the client first
    for (const p of peer.take()) { assert.equal(p.messageId, n!.messageId); sends.push(i); }
  }
  assert.equal(sends.length, 4);
  const gaps = sends.slice(1).map((s, i) => s - sends[i]!);
  assert.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!), `gaps ${gaps}`);
  assert.equal(ch.notifier.observations.size, 0);
  assert.equal(ch.session?.subscriptions.size, 0);
});
