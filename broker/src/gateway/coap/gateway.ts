/**
 * The CoAP gateway (`gateway.coap`): one UDP endpoint per listener, one CoapChannel per remote
 * address:port. The endpoint's own idle expiry is off: the channel's tick judges silence
 * (`heartbeat` for clients, `idle_timeout` for peers that never became one).
 * `max_connections` caps the peers of a listener and `max_conn_rate` the new peers per second;
 * a refused peer is dropped with its datagram and counted.
 */
import type { Config } from '../../config/index.js';
import type { ClientConnection } from '../../clients/client-manager.js';
import { UdpEndpoint, type DatagramCloseReason, type DatagramHandler, type DatagramPeer } from '../../transport/udp.js';
import { GatewayContext } from '../context.js';
import { GatewayMetrics } from '../metrics.js';
import type { UdpListenerConfig } from '../config.js';
import type { Gateway, GatewayDeps, GatewayType } from '../registry.js';
import type { CoapConfig } from './config.js';
import { CoapChannel, type CoapShared } from './channel.js';

export const coapGateway: GatewayType = {
  name: 'coap',
  create: (cfg, deps) => (cfg.gateway.coap === null ? null : new CoapGateway(cfg.gateway.coap, deps)),
  enabledAtStart: (cfg: Config) => cfg.gateway.coap !== null && cfg.gateway.coap.enable,
};

/** A peer's datagrams and end, handed to its channel — unless the channel moved to another peer. */
class PeerHandler implements DatagramHandler {
  constructor(private readonly ch: CoapChannel, private readonly peer: DatagramPeer) {}
  datagram(buf: Buffer): void { if (this.ch.peer === this.peer) this.ch.datagram(buf); }
  close(reason: DatagramCloseReason): void { if (this.ch.peer === this.peer) this.ch.close(`peer_${reason}`, true, true); }
}

interface Listener { cfg: UdpListenerConfig; endpoint: UdpEndpoint; windowStart: number; windowCount: number }

export class CoapGateway implements Gateway {
  readonly name = 'coap';
  readonly metrics = new GatewayMetrics();
  readonly createdAt = Date.now();
  startedAt = 0;
  stoppedAt = 0;
  private readonly ctx: GatewayContext;
  private readonly shared: CoapShared;
  private readonly cfg: CoapConfig;
  private readonly listenersList: Listener[];
  private readonly channels = new Set<CoapChannel>();
  private readonly forget: (ch: CoapChannel) => void;
  private isRunning = false;

  constructor(cfg: CoapConfig, deps: GatewayDeps) {
    this.cfg = cfg;
    const log = deps.log.child({ gateway: 'coap' });
    this.ctx = new GatewayContext({
      name: 'coap', protoName: 'CoAP', protoVer: 1, broker: deps.broker, clients: deps.clients, cfg, limits: deps.limits, metrics: this.metrics, log,
    });
    this.shared = { ctx: this.ctx, cfg, adopt: (from, clientId, token) => this.adopt(from, clientId, token) };
    this.forget = (ch) => { this.channels.delete(ch); };
    this.listenersList = cfg.listeners.filter((l) => l.enable).map((l) => {
      const ref: Listener = { cfg: l, endpoint: null as unknown as UdpEndpoint, windowStart: 0, windowCount: 0 };
      ref.endpoint = new UdpEndpoint({ id: `coap:udp:${l.name}`, protocol: 'coap', bind: l.bind, maxPeers: l.maxConnections, idleTimeoutMs: Infinity },
        (peer) => this.onPeer(ref, peer), log);
      return ref;
    });
  }

  get running(): boolean { return this.isRunning; }

  async start(): Promise<void> {
    if (this.isRunning) return;
    const started: UdpEndpoint[] = [];
    try {
      for (const l of this.listenersList) { await l.endpoint.start(); started.push(l.endpoint); }
    } catch (err) {
      for (const e of started) await e.stop();
      throw err;
    }
    this.isRunning = true;
    this.startedAt = Date.now();
  }

  async stop(): Promise<void> {
    if (!this.isRunning) return;
    this.isRunning = false;
    this.stoppedAt = Date.now();
    for (const ch of [...this.channels]) ch.kick('SERVER_SHUTTING_DOWN');
    for (const l of this.listenersList) await l.endpoint.stop();
  }

  port(name = 'default'): number {
    return this.listenersList.find((l) => l.cfg.name === name)?.endpoint.port ?? 0;
  }

  tick(now: number): void { for (const ch of this.channels) ch.tick(now); }

  clients(): ClientConnection[] {
    const out: ClientConnection[] = [];
    for (const ch of this.channels) if (ch.state === 'connected') out.push(ch);
    return out;
  }

  maxConnections(): number {
    let n = 0;
    for (const l of this.listenersList) n += l.cfg.maxConnections;
    return n;
  }

  listeners(): Array<Record<string, unknown>> {
    return this.cfg.listeners.map((l) => {
      const e = this.listenersList.find((x) => x.cfg.name === l.name)?.endpoint;
      const st = e?.status();
      return {
        id: `coap:udp:${l.name}`, type: 'udp', name: l.name, bind: l.bind, enable: l.enable, running: st?.running ?? false,
        port: st?.port ?? 0, current_connections: st?.peers ?? 0, max_connections: l.maxConnections, max_conn_rate: l.maxConnRate,
        datagrams_in: st?.datagramsIn ?? 0, datagrams_out: st?.datagramsOut ?? 0, dropped: st?.dropped ?? 0,
      };
    });
  }

  private onPeer(l: Listener, peer: DatagramPeer): void {
    const now = Date.now();
    if (now - l.windowStart >= 1000) { l.windowStart = now; l.windowCount = 0; }
    if (++l.windowCount > l.cfg.maxConnRate) { this.metrics.refused++; peer.close(); return; }
    const ch = new CoapChannel(peer, this.shared, l.cfg, now);
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
