/** Shared bits for cluster link tests: sample messages, a seeded RNG, polling, recording links on 127.0.0.1:0. */
import { ClusterLink, type ClusterLinkOptions, type LinkLog } from '../../../broker/src/cluster/link.js';
import type { Message } from '../../../broker/src/types.js';

export const quiet: LinkLog = { info() {}, warn() {}, error() {}, debug() {} };

/** A logger that remembers warn messages (for "closed with an error logged" assertions). */
export function recordingLog(): LinkLog & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...quiet, warnings, warn: (o: object, m?: string) => { warnings.push(`${m ?? ''} ${JSON.stringify(o)}`); } };
}

export function msg(over: Partial<Message> = {}): Message {
  return {
    id: 1, topic: 'a/b', payload: Buffer.from('hello'), qos: 1, retain: false, properties: null,
    from: 'client-1', timestamp: 1_700_000_000_123, expiresAt: 0, ...over,
  };
}

/** Deterministic randomness for fuzzing (the router tests' mulberry32). */
export { seeded as rng } from '../router/helpers.js';

export async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface Delivered { from: string; msg: Message; plain: boolean; groups: Array<[string, string]> }

/** A link plus what it delivered; `calls` are served from the map (unknown method throws). */
export class Node {
  readonly delivered: Delivered[] = [];
  readonly states: Array<[string, boolean]> = [];
  readonly link: ClusterLink;
  onDeliver: ((d: Delivered) => void) | null = null;
  constructor(name: string, over: Partial<ClusterLinkOptions> = {}, methods: Record<string, (args: unknown, from: string) => unknown> = {}) {
    this.link = new ClusterLink({
      self: name, cluster: 'c1', incarnation: Date.now(), bind: '127.0.0.1:0', tls: null, maxPending: 10_000,
      backoff: { minMs: 10, maxMs: 50 }, resendAfterMs: 5000, pingIntervalMs: 1000, log: quiet,
      // link-net.test.ts runs the link tests again on net.Socket instead of raw handles.
      rawSockets: process.env.PETREL_TEST_LINK_NET !== '1', ...over,
    }, {
      deliver: (from, m, plain, groups) => {
        const d = { from, msg: m, plain, groups };
        this.delivered.push(d);
        this.onDeliver?.(d);
      },
      call: (from, method, args) => {
        const fn = methods[method];
        if (!fn) throw new Error(`unknown method ${method}`);
        return fn(args, from);
      },
      peerState: (node, up) => { this.states.push([node, up]); },
    });
  }
  get addr(): string {
    return `127.0.0.1:${this.link.port}`;
  }
}

/** Two started nodes a → b with a dialling b (and b dialling a when both). */
export async function pair(aOpts: Partial<ClusterLinkOptions> = {}, bOpts: Partial<ClusterLinkOptions> = {}, both = false): Promise<[Node, Node]> {
  const a = new Node('a', aOpts);
  const b = new Node('b', bOpts, { echo: (x) => x, boom: () => { throw new Error('kaboom'); }, slow: () => new Promise(() => {}), async add(x) { const [p, q] = x as number[]; return p! + q!; } });
  await a.link.start();
  await b.link.start();
  a.link.setPeer('b', b.addr);
  if (both) b.link.setPeer('a', a.addr);
  await waitFor(() => a.link.peerState('b') === 'up' && (!both || b.link.peerState('a') === 'up'), 'link up');
  return [a, b];
}
