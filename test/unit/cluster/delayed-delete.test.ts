/** ClusterDelayed.delete: the key goes from etcd and the message is never published. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterDelayed } from '../../../broker/src/cluster/delayed.js';
import type { Message } from '../../../broker/src/types.js';

const msg = (id: number): Message => ({ id, topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, properties: null, from: 'c', timestamp: Date.now(), expiresAt: 0 });

test('deleting a held message removes its key and its timer', async () => {
  const puts: string[] = [];
  const dels: string[] = [];
  const d = new ClusterDelayed('/p/delayed/', 'n1', 0, { put: (k) => { puts.push(k); }, del: (k) => { dels.push(k); }, log: { warn() {} } });
  const published: number[] = [];
  d.setLeader(true, (m) => { published.push(m.id); });
  d.add(msg(7), 0);
  d.add(msg(8), 0);
  assert.equal(d.delete(7), true);
  assert.equal(d.delete(7), false);
  assert.equal(d.delete(99), false);
  assert.deepEqual(dels, [puts[0]]);
  assert.deepEqual(d.list().map((h) => h.msg.id), [8]);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(published, [8]);
  d.stop();
});
