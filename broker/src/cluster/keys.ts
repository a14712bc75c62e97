/**
 * Every etcd key of a cluster, built in one place. Under the cluster's prefix (cluster.etcd.prefix):
 *
 *   {p}/nodes/{node}                       membership record (JSON Member), under the node's lease
 *   {p}/routes/{node}/p/{filter}           a plain route whose first level is a wildcard (lease)
 *   {p}/routes/{node}/s/{group}/{filter}   the node has members of a shared group (lease)
 *   {p}/summary/{node}/s                   the node's route summary: a Bloom filter of the literal
 *   {p}/summary/{node}/d/{seq}             prefixes of its other filters, snapshot + deltas (lease)
 *   {p}/summary/{node}/p/{tag}/{i}         parts of a snapshot over one etcd request; /s is then their manifest
 *   {p}/clients/{clientid}                 the node that holds the client (lease of that node)
 *   {p}/retained/{topic}                   a retained message (no lease: outlives every node)
 *   {p}/exclusive/{filter}                 the client holding `$exclusive/{filter}` (lease of its node)
 *   {p}/delayed/{node}/{id}-{n}           a delayed message and its due time (no lease)
 *   {p}/sessions/{clientid}                a persistent session's record and its node (no lease)
 *   {p}/access/{namespace}/{key}           access control: users, chain, rules, bans (no lease; JSON)
 *
 * Node names ("name@host") and group names hold no '/', so a key splits back unambiguously.
 */
export type SummaryKey =
  | { node: string; kind: 'snapshot' | 'delta' }
  | { node: string; kind: 'part'; tag: number; index: number };

export class ClusterKeys {
  readonly prefix: string;
  constructor(prefix: string) { this.prefix = prefix.replace(/\/+$/, ''); }

  get nodes(): string { return `${this.prefix}/nodes/`; }
  node(name: string): string { return this.nodes + name; }

  get routes(): string { return `${this.prefix}/routes/`; }
  routesOf(node: string): string { return `${this.routes}${node}/`; }
  route(node: string, topicFilter: string, group: string | null): string {
    return group === null ? `${this.routes}${node}/p/${topicFilter}` : `${this.routes}${node}/s/${group}/${topicFilter}`;
  }
  /** The parts of a route key; null when the key is not one. */
  parseRoute(key: string): { node: string; topicFilter: string; group: string | null } | null {
    if (!key.startsWith(this.routes)) return null;
    const rest = key.slice(this.routes.length);
    const a = rest.indexOf('/');
    if (a <= 0) return null;
    const node = rest.slice(0, a);
    const kind = rest.slice(a + 1, a + 3);
    if (kind === 'p/') return { node, topicFilter: rest.slice(a + 3), group: null };
    if (kind !== 's/') return null;
    const g = rest.indexOf('/', a + 3);
    if (g < 0) return null;
    return { node, group: rest.slice(a + 3, g), topicFilter: rest.slice(g + 1) };
  }

  get summaries(): string { return `${this.prefix}/summary/`; }
  summarySnapshot(node: string): string { return `${this.summaries}${node}/s`; }
  summaryDelta(node: string, seq: number): string { return `${this.summaries}${node}/d/${seq.toString(36).padStart(8, '0')}`; }
  /** One part of a summary snapshot too large for one key (cluster/summary-parts.ts). */
  summaryPart(node: string, tag: number, index: number): string { return `${this.summaries}${node}/p/${tag.toString(36)}/${index}`; }
  /** The node and kind of a summary key; null when the key is not one. */
  parseSummary(key: string): SummaryKey | null {
    if (!key.startsWith(this.summaries)) return null;
    const rest = key.slice(this.summaries.length);
    const i = rest.indexOf('/');
    if (i <= 0) return null;
    const node = rest.slice(0, i);
    const kind = rest.slice(i + 1);
    if (kind === 's') return { node, kind: 'snapshot' };
    if (kind.startsWith('d/')) return { node, kind: 'delta' };
    const m = /^p\/([0-9a-z]{1,7})\/(\d{1,5})$/.exec(kind);
    return m === null ? null : { node, kind: 'part', tag: parseInt(m[1]!, 36), index: Number(m[2]) };
  }

  get clients(): string { return `${this.prefix}/clients/`; }
  client(clientId: string): string { return this.clients + clientId; }

  exclusive(topicFilter: string): string { return `${this.prefix}/exclusive/${topicFilter}`; }

  get delayed(): string { return `${this.prefix}/delayed/`; }

  get sessions(): string { return `${this.prefix}/sessions/`; }
  session(clientId: string): string { return this.sessions + clientId; }

  get retained(): string { return `${this.prefix}/retained/`; }
  retainedTopic(topic: string): string { return this.retained + topic; }

  /** Access-control state (access/shared-store.ts): namespaces hold no '/'; a key may hold anything. */
  get access(): string { return `${this.prefix}/access/`; }
  accessKey(ns: string, key: string): string { return `${this.access}${ns}/${key}`; }
  /** The namespace and key of an access key; null when the key is not one. */
  parseAccess(key: string): { ns: string; key: string } | null {
    if (!key.startsWith(this.access)) return null;
    const rest = key.slice(this.access.length);
    const i = rest.indexOf('/');
    return i <= 0 ? null : { ns: rest.slice(0, i), key: rest.slice(i + 1) };
  }
}
