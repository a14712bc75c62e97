/**
 * The MQTT-SN gateway (`gateway.mqttsn`): one UDP endpoint per listener, one SnChannel per
 * remote address:port, the predefined topics shared by all of them, SEARCHGW answered by any
 * channel, and — with `broadcast: true` — an ADVERTISE on every IPv4 interface's broadcast
 * address every 15 minutes, as EMQX does (EMQX sends it to the listener's port).
 *
 * The listeners are the datagram gateways' (udp-listeners.ts: `max_connections`, `max_conn_rate`,
 * REST rows); a connected client's silence is judged by its keep alive and a sleeping one's by its
 * sleep duration (the channel's tick); before CONNECT a peer lives `idle_timeout`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Config } from '../../config/index.js';
import type { ClientConnection } from '../../clients/client-manager.js';
import type { DatagramPeer } from '../../transport/udp.js';
import { PeerHandler, UdpListeners } from '../udp-listeners.js';
import { GatewayContext } from '../context.js';
import { GatewayMetrics } from '../metrics.js';
import type { MqttsnConfig, UdpListenerConfig } from '../config.js';
import type { Gateway, GatewayDeps, GatewayType } from '../registry.js';
import { encode } from './codec.js';
import { SnChannel, type SnShared } from './channel.js';
import { PredefinedTopics, TopicRegistry } from './topics.js';

const ADVERTISE_EVERY_S = 15 * 60;

export const mqttsnGateway: GatewayType = {
  name: 'mqttsn',
  create: (cfg, deps) => (cfg.gateway.mqttsn === null ? null : new MqttsnGateway(cfg.gateway.mqttsn, deps)),
  enabledAtStart: (cfg: Config) => cfg.gateway.mqttsn !== null && cfg.gateway.mqttsn.enable,
};

export class MqttsnGateway implements Gateway {
  readonly name = 'mqttsn';
  readonly metrics = new GatewayMetrics();
  readonly createdAt = Date.now();
  startedAt = 0;
  stoppedAt = 0;
  private readonly cfg: MqttsnConfig;
  private readonly ctx: GatewayContext;
  private readonly shared: SnShared;
  private readonly udp: UdpListeners;
  private readonly channels = new Set<SnChannel>();
  private readonly forget: (ch: SnChannel) => void;
  private advertiser: { socket: Socket; timer: NodeJS.Timeout } | null = null;
  private isRunning = false;

  constructor(cfg: MqttsnConfig, deps: GatewayDeps) {
    this.cfg = cfg;
    const log = deps.log.child({ gateway: 'mqttsn' });
    this.ctx = new GatewayContext({
      name: 'mqttsn', protoName: 'MQTT-SN', protoVer: 1, broker: deps.broker, clients: deps.clients, cfg, limits: deps.limits, metrics: this.metrics, log,
    });
    const predefined = new PredefinedTopics(cfg.predefined);
    this.shared = {
      ctx: this.ctx, gatewayId: cfg.gatewayId, enableQos3: cfg.enableQos3, topics: () => new TopicRegistry(predefined),
      adopt: (from, clientId) => this.adopt(from, clientId),
    };
    this.forget = (ch) => { this.channels.delete(ch); };
    this.udp = new UdpListeners('mqttsn', cfg.listeners, this.metrics, log, (l, peer) => this.onPeer(l, peer));
  }

  get running(): boolean { return this.isRunning; }

  async start(): Promise<void> {
    if (this.isRunning) return;
    await this.udp.start();
    this.isRunning = true;
    this.startedAt = Date.now();
    if (this.cfg.broadcast) this.startAdvertising();
  }

  async stop(): Promise<void> {
    if (!this.isRunning) return;
    this.isRunning = false;
    this.stoppedAt = Date.now();
    if (this.advertiser !== null) {
      clearInterval(this.advertiser.timer);
      this.advertiser.socket.close();
      this.advertiser = null;
    }
    const live = [...this.channels];
    for (const ch of live) ch.kick('SERVER_SHUTTING_DOWN');
    // Let the DISCONNECTs leave before the socket closes under them.
    if (live.length > 0) await new Promise((r) => setTimeout(r, 20));
    await this.udp.stop();
  }

  /** Port a listener is bound to while running (tests bind port 0). */
  port(name = 'default'): number { return this.udp.port(name); }

  tick(now: number): void { for (const ch of this.channels) ch.tick(now); }

  clients(): ClientConnection[] {
    const out: ClientConnection[] = [];
    for (const ch of this.channels) if (ch.state !== 'new' && ch.state !== 'will' && ch.state !== 'auth' && ch.state !== 'closed') out.push(ch);
    return out;
  }

  maxConnections(): number { return this.udp.maxConnections(); }

  listeners(): Array<Record<string, unknown>> { return this.udp.rows(); }

  private onPeer(l: UdpListenerConfig, peer: DatagramPeer): void {
    const now = Date.now();
    const ch = new SnChannel(peer, this.shared, l, now);
    ch.onClosed = this.forget;
    this.channels.add(ch);
    peer.setHandler(new PeerHandler(ch, peer));
  }

  /** A sleeping client's PINGREQ from a new port of the same address: its channel moves there. */
  private adopt(from: SnChannel, clientId: string): SnChannel | null {
    const to = from.peer as DatagramPeer;
    for (const ch of this.channels) {
      if (ch === from || ch.state !== 'asleep' || ch.info.clientId !== clientId) continue;
      if (ch.peer.remoteAddress !== to.remoteAddress || ch.peer.listener !== to.listener) return null;
      const old = ch.peer;
      ch.peer = to;
      to.setHandler(new PeerHandler(ch, to));
      from.close('moved', false, true);
      old.close();
      return ch;
    }
    return null;
  }

  private startAdvertising(): void {
    const socket = createSocket('udp4');
    socket.on('error', (err) => this.ctx.log.warn({ err: err.message }, 'MQTT-SN ADVERTISE socket error'));
    const send = (): void => {
      const buf = encode({ type: 'advertise', gwId: this.cfg.gatewayId, duration: ADVERTISE_EVERY_S });
      for (const port of this.udp.ports()) for (const addr of broadcastAddresses()) socket.send(buf, port, addr);
    };
    socket.bind(0, () => { socket.setBroadcast(true); send(); });
    const timer = setInterval(send, ADVERTISE_EVERY_S * 1000);
    timer.unref();
    this.advertiser = { socket, timer };
  }
}

/** The directed broadcast address of every IPv4 interface (address | ~netmask). */
function broadcastAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) {
    if (a.family !== 'IPv4') continue;
    const ip = a.address.split('.').map(Number);
    const mask = a.netmask.split('.').map(Number);
    out.add(ip.map((o, i) => (o | (~mask[i] & 0xff))).join('.'));
  }
  return [...out];
}
