// ClusterLink with mutual TLS: certificates made by openssl in a temp dir. Two nodes of the same
// CA forward and call; a client with no certificate, or one from another CA, is refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Node, msg, waitFor } from './helpers.js';

let dir = '';
const read = (f: string) => readFileSync(join(dir, f));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA (ca.crt/ca.key) and a certificate `name`.crt/.key signed by it. */
function makeCa(ca: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`);
}
function makeCert(name: string, ca: string): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1');
}
const tlsOf = (name: string, ca = 'ca') => ({ ca: read(`${ca}.crt`), cert: read(`${name}.crt`), key: read(`${name}.key`) });

const nodes: Node[] = [];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'petrel-link-tls-'));
  makeCa('ca');
  makeCa('rogue-ca');
  makeCert('node-a', 'ca');
  makeCert('node-b', 'ca');
  makeCert('rogue', 'rogue-ca');
});
after(async () => {
  for (const n of nodes) await n.link.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves 'refused' when the server closes or fails the handshake before answering our HELLO. */
async function probe(port: number, opts: object): Promise<'answered' | 'refused'> {
  const { encodeHello } = await import('../../../broker/src/cluster/link-codec.js');
  const s = connect({ host: '127.0.0.1', port, ca: read('ca.crt'), checkServerIdentity: () => undefined, ...opts });
  s.on('error', () => {});
  s.on('secureConnect', () => s.write(encodeHello('c1', 'probe', 1)));
  const result = await new Promise<'answered' | 'refused'>((resolve) => {
    s.once('data', () => resolve('answered'));
    s.once('close', () => resolve('refused'));
  });
  s.destroy();
  return result;
}

describe('cluster link: mutual TLS', () => {
  it('two nodes of one CA forward and call', async () => {
    const a = new Node('a', { tls: tlsOf('node-a') });
    const b = new Node('b', { tls: tlsOf('node-b') }, { echo: (x) => x });
    nodes.push(a, b);
    await a.link.start();
    await b.link.start();
    a.link.setPeer('b', b.addr);
    await waitFor(() => a.link.peerState('b') === 'up', 'tls link up');
    a.link.forward('b', msg({ id: 5, qos: 1, properties: { correlationData: Buffer.from('c') } }), true, []);
    await waitFor(() => b.delivered.length === 1 && a.link.stats()['b']!.pending === 0, 'delivered and acked');
    assert.deepEqual(b.delivered[0]!.msg.properties, { correlationData: Buffer.from('c') });
    assert.equal(await a.link.call('b', 'echo', 'over tls'), 'over tls');
  });

  it('refuses a client without a certificate, with a certificate of another CA, and a plain TCP node', async () => {
    const b = new Node('b', { tls: tlsOf('node-b') });
    nodes.push(b);
    await b.link.start();
    assert.equal(await probe(b.link.port, { cert: read('node-a.crt'), key: read('node-a.key') }), 'answered');
    assert.equal(await probe(b.link.port, {}), 'refused');
    assert.equal(await probe(b.link.port, { cert: read('rogue.crt'), key: read('rogue.key') }), 'refused');
    await waitFor(() => b.link.unattributedProtocolErrors >= 2, 'handshake failures counted');
    const plain = new Node('a');
    nodes.push(plain);
    await plain.link.start();
    plain.link.setPeer('b', b.addr);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(plain.link.peerState('b'), 'down');
  });
});
