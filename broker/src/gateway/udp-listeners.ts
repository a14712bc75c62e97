/**
 * A datagram gateway's listeners (`listeners.udp.<name>`): one UdpEndpoint each, started
 * together (a failure stops those already started), `max_conn_rate` applied to new peers
 * (a refused one is dropped with its datagram and counted in `peers.refused`), and EMQX's
 * listener rows for the REST API. The endpoint's own idle expiry is off: each gateway's
 * channels judge silence themselves (keep alive, heartbeat, idle_timeout).
 */
import type { Logger } from 'pino';
import { UdpEndpoint, type DatagramCloseReason, type DatagramHandler, type DatagramPeer } from '../transport/udp.js';
import type { UdpListenerConfig } from './config.js';
import type { GatewayMetrics } from './metrics.js';

interface Listener { cfg: UdpListenerConfig; endpoint: UdpEndpoint; windowStart: number; windowCount: number }

export class UdpListeners {
  private readonly gateway: string;
  private readonly all: readonly UdpListenerConfig[];
  private readonly list: Listener[];
  private readonly metrics: GatewayMetrics;

  /** `onPeer` gets each admitted new peer with its listener's config. */
  constructor(gateway: string, cfgs: readonly UdpListenerConfig[], metrics: GatewayMetrics, log: Logger, onPeer: (l: UdpListenerConfig, peer: DatagramPeer) => void) {
    this.gateway = gateway;
    this.all = cfgs;
    this.metrics = metrics;
    this.list = cfgs.filter((l) => l.enable).map((l) => {
      const ref: Listener = { cfg: l, endpoint: null as unknown as UdpEndpoint, windowStart: 0, windowCount: 0 };
      ref.endpoint = new UdpEndpoint({
        id: `${gateway}:udp:${l.name}`, protocol: gateway, bind: l.bind, maxPeers: l.maxConnections, idleTimeoutMs: Infinity,
        recvBufferSize: l.udp.recbuf, sendBufferSize: l.udp.sndbuf, reuseAddr: l.udp.reuseaddr,
      },
        (peer) => { if (this.admit(ref, peer)) onPeer(l, peer); }, log);
      return ref;
    });
  }

  async start(): Promise<void> {
    const started: UdpEndpoint[] = [];
    try {
      for (const l of this.list) { await l.endpoint.start(); started.push(l.endpoint); }
    } catch (err) {
      for (const e of started) await e.stop();
      throw err;
    }
  }

  async stop(): Promise<void> { for (const l of this.list) await l.endpoint.stop(); }

  /** Port a listener is bound to while running (tests bind port 0). */
  port(name = 'default'): number { return this.list.find((l) => l.cfg.name === name)?.endpoint.port ?? 0; }

  /** Ports of the running listeners. */
  ports(): number[] { return this.list.map((l) => l.endpoint.port).filter((p) => p > 0); }

  maxConnections(): number {
    let n = 0;
    for (const l of this.list) n += l.cfg.maxConnections;
    return n;
  }

  /** EMQX's listener rows, with the endpoint's counters. */
  rows(): Array<Record<string, unknown>> {
    return this.all.map((l) => {
      const st = this.list.find((x) => x.cfg.name === l.name)?.endpoint.status();
      return {
        id: `${this.gateway}:udp:${l.name}`, type: 'udp', name: l.name, bind: l.bind, enable: l.enable, running: st?.running ?? false,
        port: st?.port ?? 0, current_connections: st?.peers ?? 0, max_connections: l.maxConnections, max_conn_rate: l.maxConnRate,
        datagrams_in: st?.datagramsIn ?? 0, datagrams_out: st?.datagramsOut ?? 0, dropped: st?.dropped ?? 0,
        // What the kernel granted (Linux reports twice the size asked for, capped by rmem_max/wmem_max).
        recbuf: st?.recvBufferSize ?? 0, sndbuf: st?.sendBufferSize ?? 0,
      };
    });
  }

  /** `max_conn_rate`: new peers per one-second window. */
  private admit(l: Listener, peer: DatagramPeer): boolean {
    const now = Date.now();
    if (now - l.windowStart >= 1000) { l.windowStart = now; l.windowCount = 0; }
    if (++l.windowCount <= l.cfg.maxConnRate) return true;
    this.metrics.refused++;
    peer.close();
    return false;
  }
}

/** What a datagram gateway's channel offers its peer's handler. */
export interface PeerChannel {
  /** The peer the channel speaks through now (a sleeping or token client may move to another). */
  readonly peer: unknown;
  datagram(buf: Buffer): void;
  close(reason: string, publishWill: boolean, fromPeer?: boolean): void;
}

/** A peer's datagrams and end, handed to its channel — unless the channel moved to another peer. */
export class PeerHandler implements DatagramHandler {
  constructor(private readonly ch: PeerChannel, private readonly peer: DatagramPeer) {}
  datagram(buf: Buffer): void { if (this.ch.peer === this.peer) this.ch.datagram(buf); }
  close(reason: DatagramCloseReason): void { if (this.ch.peer === this.peer) this.ch.close(`peer_${reason}`, true, true); }
}
