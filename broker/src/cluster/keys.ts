/**
 * Every etcd key of a cluster, built in one place. Under the cluster's prefix (cluster.etcd.prefix):
 *
 *   {p}/nodes/{node}                       membership record (JSON Member), under the node's lease
 *   {p}/routes/{node}/p/{filter}           a plain route: the node has subscribers to the filter (lease)
 *   {p}/routes/{node}/s/{group}/{filter}   the node has members of a shared group (lease)
 *   {p}/clients/{clientid}                 the node that holds the client (lease of that node)
 *   {p}/retained/{topic}                   a retained message (no lease: outlives every node)
 *   {p}/exclusive/{filter}                 the client holding `$exclusive/{filter}` (lease of its node)
 *   {p}/delayed/{node}/{id}-{n}           a delayed message and its due time (no lease)
 *   {p}/sessions/{clientid}                a persistent session's record and its node (no lease)
 *
 * Node names ("name@host") and group names hold no '/', so a key splits back unambiguously.
 */
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

  get clients(): string { return `${this.prefix}/clients/`; }
  client(clientId: string): string { return this.clients + clientId; }

  exclusive(topicFilter: string): string { return `${this.prefix}/exclusive/${topicFilter}`; }

  get delayed(): string { return `${this.prefix}/delayed/`; }

  get sessions(): string { return `${this.prefix}/sessions/`; }
  session(clientId: string): string { return this.sessions + clientId; }

  get retained(): string { return `${this.prefix}/retained/`; }
  retainedTopic(topic: string): string { return this.retained + topic; }
}
