/**
 * The CoAP gateway (`gateway.coap`): its UDP listeners (udp-listeners.ts: max_connections,
 * max_conn_rate, REST rows) and one CoapChannel per remote address:port. The channels judge
 * silence (`heartbeat` for clients, `idle_timeout` for peers that never became one) on the
 * registry's once-a-second tick.
 */
import type { Config } from '../../config/index.js';
import type { ClientConnection } from '../../clients/client-manager.js';
import type { DatagramPeer } from '../../transport/udp.js';
import { GatewayContext } from '../context.js';
import { GatewayMetrics } from '../metrics.js';
import type { UdpListenerConfig } from '../config.js';
import type { Gateway, GatewayDeps, GatewayType } from '../registry.js';
import { PeerHandler, UdpListeners } from '../udp-listeners.js';
import type { CoapConfig } from './config.js';
import { CoapChannel, type CoapShared } from './channel.js';

export const coapGateway: GatewayType = {
  name: 'coap',
  create: (cfg, deps) => (cfg.gateway.coap === null ? null : new CoapGateway(cfg.gateway.coap, deps)),
  enabledAtStart: (cfg: Config) => cfg.gateway.coap !== null && cfg.gateway.coap.enable,
};

export class CoapGateway implements Gateway {
  readonly name = 'coap';
  readonly metrics = new GatewayMetrics();
  readonly createdAt = Date.now();
  startedAt = 0;
  stoppedAt = 0;
  private readonly shared: CoapShared;
  private readonly udp: UdpListeners;
  private readonly channels = new Set<CoapChannel>();
  private readonly forget: (ch: CoapChannel) => void;
  private isRunning = false;

  constructor(cfg: CoapConfig, deps: GatewayDeps) {
    const log = deps.log.child({ gateway: 'coap' });
    const ctx = new GatewayContext({
      name: 'coap', protoName: 'CoAP', protoVer: 1, broker: deps.broker, clients: deps.clients, cfg, limits: deps.limits, metrics: this.metrics, log,
    });
    this.shared = { ctx, cfg, adopt: (from, clientId, token) => this.adopt(from, clientId, token) };
    this.forget = (ch) => { this.channels.delete(ch); };
    this.udp = new UdpListeners('coap', cfg.listeners, this.metrics, log, (l, peer) => this.onPeer(l, peer));
  }

  get running(): boolean { return this.isRunning; }

  async start(): Promise<void> {
    if (this.isRunning) return;
    await this.udp.start();
    this.isRunning = true;
    this.startedAt = Date.now();
  }

  async stop(): Promise<void> {
    if (!this.isRunning) return;
    this.isRunning = false;
    this.stoppedAt = Date.now();
    for (const ch of [...this.channels]) ch.kick('SERVER_SHUTTING_DOWN');
    await this.udp.stop();
  }

  port(name = 'default'): number { return this.udp.port(name); }

  tick(now: number): void { for (const ch of this.channels) ch.tick(now); }

  clients(): ClientConnection[] {
    const out: ClientConnection[] = [];
    for (const ch of this.channels) if (ch.state === 'connected') out.push(ch);
    return out;
  }

  maxConnections(): number { return this.udp.maxConnections(); }

  listeners(): Array<Record<string, unknown>> { return this.udp.rows(); }

  private onPeer(l: UdpListenerConfig, peer: DatagramPeer): void {
    const ch = new CoapChannel(peer, this.shared, l, Date.now());
    ch.onClosed = this.forget;
    this.channels.add(ch);
    peer.setHandler(new PeerHandler(ch, peer));
  }
  /** A connected client's clientid and token from a new address:port: the client moves there (EMQX's takeover with token). */
  private adopt(from: CoapChannel, clientId: string, token: string): CoapChannel | null {
    const to = from.peer as DatagramPeer;
    for (const ch of this.channels) {
      if (ch === from || ch.state !== 'connected' || ch.claimedId !== clientId || ch.token !== token) continue;
      if (ch.peer.listener !== to.listener) return null;
      const old = ch.peer;
      ch.peer = to;
      to.setHandler(new PeerHandler(ch, to));
      from.close('moved', false, true);
      old.close();
      return ch;
    }
    return null;
  }
}
