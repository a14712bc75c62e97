/**
 * $SYS topics: `$SYS/brokers/{node}/…` with the node's version, uptime, time, statistics and
 * metrics, published periodically (sys_topics.*), as EMQX and Mosquitto users expect.
 * `version` and `sysdescr` are retained once at start; the rest are plain messages.
 *
 * `$SYS/brokers` (retained) is the comma-separated, sorted list of live nodes, as in EMQX: published at
 * start and again when membership changes, which the heartbeat and stats timers look for.
 */
import type { Broker } from './broker.js';
import type { Config } from './config/index.js';
import { VERSION } from './version.js';

export class SysPublisher {
  private readonly broker: Broker;
  private readonly cfg: Config;
  private readonly connections: () => number;
  private readonly liveConnections: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly prefix: string;
  /** The node list last published on $SYS/brokers. */
  private brokers = '';

  constructor(broker: Broker, cfg: Config, connections: () => number, liveConnections: () => number) {
    this.broker = broker;
    this.cfg = cfg;
    this.connections = connections;
    this.liveConnections = liveConnections;
    this.prefix = `$SYS/brokers/${cfg.node.name}`;
  }

  start(): void {
    this.publishBrokers();
    this.pub(`${this.prefix}/version`, VERSION, true);
    this.pub(`${this.prefix}/sysdescr`, 'Petrel MQTT broker', true);
    const hb = this.cfg.sys_topics.sys_heartbeat_interval;
    const mi = this.cfg.sys_topics.sys_msg_interval;
    if (hb > 0 && hb !== Infinity) this.every(hb, () => this.heartbeat());
    if (mi > 0 && mi !== Infinity) this.every(mi, () => this.stats());
  }

  stop(): void { for (const t of this.timers) clearInterval(t); this.timers.length = 0; }

  /** Values published under stats/: also what /api/v5/stats returns. */
  statsSnapshot(): Record<string, number> {
    const b = this.broker;
    return {
      'connections.count': this.connections(),
      'live_connections.count': this.liveConnections(),
      'sessions.count': b.sessions.size,
      'subscriptions.count': b.index.size,
      'topics.count': b.state.routes.size,
      'retained.count': b.state.retained.size,
      'delayed.count': b.state.delayedCount,
      ...b.state.stats(),
    };
  }

  /** Publishes $SYS/brokers (retained) when the member list differs from the last one published. */
  publishBrokers(): void {
    // Sorted: members() puts each node itself first, and every node publishes this retained topic.
    const list = this.broker.state.members().map((m) => m.name).sort().join(',');
    if (list === this.brokers) return;
    this.brokers = list;
    this.pub('$SYS/brokers', list, true);
  }

  heartbeat(): void {
    this.publishBrokers();
    this.pub(`${this.prefix}/uptime`, String(Math.floor((Date.now() - this.broker.metrics.startedAt) / 1000)), false);
    this.pub(`${this.prefix}/datetime`, new Date().toISOString(), false);
  }

  stats(): void {
    this.publishBrokers();
    for (const [k, v] of Object.entries(this.statsSnapshot())) this.pub(`${this.prefix}/stats/${k.replace(/\./g, '/')}`, String(v), false);
    for (const [k, v] of Object.entries(this.broker.metrics.counters)) this.pub(`${this.prefix}/metrics/${k.replace(/\./g, '/')}`, String(v), false);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private pub(topic: string, payload: string, retain: boolean): void {
    this.broker.publish(this.broker.newMessage(topic, Buffer.from(payload), 0, retain, null, ''));
  }
}
