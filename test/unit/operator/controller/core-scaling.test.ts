/** Core scaling decisions: member before pod on the way up, member removed before pod on the way down, quorum. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCoreScale, quorum, needsMembers } from '../../../../operator/src/controller/core-scaling.js';
import { memberOrdinal, type EtcdMember } from '../../../../operator/src/controller/etcd-members.js';

const peer = (i: number): string => `http://mc-core-${i}.mc-core-headless.ns.svc:2380`;
const member = (i: number, started = true): EtcdMember => ({ id: `id${i}`, name: started ? `mc-core-${i}` : '', peerURLs: [peer(i)], clientURLs: [], started });
const base = { podPrefix: 'mc-core', peerURL: peer };

test('quorum sizes', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorum), [1, 2, 2, 3, 3]);
  assert.equal(needsMembers(3, undefined), false);
  assert.equal(needsMembers(3, 3), false);
  assert.equal(needsMembers(5, 3), true);
});

test('creation and steady state need no etcd calls', () => {
  assert.deepEqual(planCoreScale({ ...base, desired: 3, current: undefined, ready: 0, members: undefined }).action, 'set');
  const s = planCoreScale({ ...base, desired: 3, current: 3, ready: 3, members: undefined });
  assert.equal(s.action, 'set');
  assert.equal(s.replicas, 3);
});

test('scale up: add the member of ordinal `current`, then one more pod', () => {
  const s = planCoreScale({ ...base, desired: 5, current: 3, ready: 3, members: [0, 1, 2].map((i) => member(i)) });
  assert.equal(s.action, 'add-member');
  assert.ok(s.action === 'add-member' && s.ordinal === 3 && s.peerURL === peer(3) && s.replicas === 4);
});

test('scale up waits for every current pod to be ready before the next member', () => {
  const s = planCoreScale({ ...base, desired: 5, current: 4, ready: 3, members: [0, 1, 2, 3].map((i) => member(i, i < 3)) });
  assert.equal(s.action, 'wait');
  assert.equal(s.replicas, 4);
});

test('scale up resumes when the member was added but the StatefulSet write was lost', () => {
  const s = planCoreScale({ ...base, desired: 5, current: 3, ready: 3, members: [0, 1, 2].map((i) => member(i)).concat(member(3, false)) });
  assert.equal(s.action, 'set');
  assert.equal(s.replicas, 4);
});

test('scale down removes the highest ordinal member first, one per step', () => {
  const s = planCoreScale({ ...base, desired: 3, current: 5, ready: 5, members: [0, 1, 2, 3, 4].map((i) => member(i)) });
  assert.ok(s.action === 'remove-member' && s.ordinal === 4 && s.memberId === 'id4' && s.replicas === 4);
  const done = planCoreScale({ ...base, desired: 3, current: 5, ready: 5, members: [0, 1, 2, 3].map((i) => member(i)) });
  assert.equal(done.action, 'set', 'member already gone: only the pod remains to go');
  assert.equal(done.replicas, 4);
});

test('scale down refuses to break quorum', () => {
  // 5 members, only 0..2 started; removing started member 4 is impossible here, but removing 4
  // when just 2 of the remaining 4 are started would leave no quorum (needs 3)
  const members = [member(0), member(1), member(2, false), member(3, false), member(4)];
  const s = planCoreScale({ ...base, desired: 3, current: 5, ready: 3, members });
  assert.equal(s.action, 'wait');
  assert.match(s.reason, /below quorum 3/);
});

test('member ordinals come from the name, the peer URL host, or the URL the operator would use', () => {
  assert.equal(memberOrdinal(member(2), 'mc-core'), 2);
  assert.equal(memberOrdinal(member(7, false), 'mc-core'), 7);
  assert.equal(memberOrdinal({ id: 'x', name: 'other-0', peerURLs: ['http://10.0.0.1:2380'], clientURLs: [], started: true }, 'mc-core'), undefined);
  const loop = (i: number): string => `http://127.0.0.1:${4000 + i}`;
  const s = planCoreScale({
    desired: 5, current: 4, ready: 4, podPrefix: 'mc-core', peerURL: loop,
    members: [0, 1, 2].map((i) => member(i)).concat({ id: 'n', name: '', peerURLs: [loop(4)], clientURLs: [], started: false }),
  });
  // ordinal 4 is recognised by its URL: the next step sets replicas instead of adding it twice
  assert.equal(s.action, 'set');
  assert.equal(s.replicas, 5);
});
