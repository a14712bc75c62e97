/**
 * Test support: an MQTT over QUIC client built on @matrixai/quic's QUICClient — the same QUIC
 * stack as the broker, but the client side of it — speaking MQTT with mqtt-packet on the one
 * bidirectional stream it opens (EMQX's single-stream mode). Packets are collected in order;
 * `next(cmd)` waits for the next of a kind.
 *
 * `udpRelay()` is a loopback UDP relay that can change the source port it forwards from (NAT
 * rebinding: the broker sees the client's address change mid-connection) or black-hole
 * everything (a client that vanishes without a CONNECTION_CLOSE).
 */
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { QUICClient, type QUICStream } from '@matrixai/quic';
import QuicLogger, { LogLevel } from '@matrixai/logger';
import mqttPacket, { type Packet } from 'mqtt-packet';

export interface QuicMqttOptions {
  port: number;
  /** Default 'mqtt'. */
  alpn?: string;
  /** CA the server certificate is verified against (PEM file). */
  ca: string;
  /** Client certificate and key (PEM files) for verify_peer listeners. */
  cert?: string;
  key?: string;
  /** Idle timeout the client announces, ms (0 = none). */
  idleMs?: number;
}

const clientCrypto = {
  ops: { randomBytes: async (data: ArrayBuffer): Promise<void> => { randomBytes(data.byteLength).copy(Buffer.from(data)); } },
};
const quiet = new QuicLogger('quic-client', LogLevel.ERROR, []);

export class QuicMqttClient {
  readonly quic: QUICClient;
  readonly stream: QUICStream;
  readonly packets: Packet[];
  /** Set once the stream or connection has ended (with the error, if any). */
  closed: { err?: unknown } | null;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private readonly waiters: Array<() => void>;
  private readonly version: 4 | 5;

  private constructor(quic: QUICClient, version: 4 | 5) {
    this.quic = quic;
    this.version = version;
    this.stream = quic.connection.newStream('bidi');
    this.writer = this.stream.writable.getWriter();
    this.writer.closed.catch(() => {});
    this.packets = [];
    this.closed = null;
    this.waiters = [];
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => { this.packets.push(p); this.wake(); });
    this.parser.on('error', (err: Error) => { this.closed ??= { err }; this.wake(); });
    void this.readLoop();
  }

  /** Completes the QUIC handshake (throws when it fails) and opens the MQTT stream. */
  static async connect(o: QuicMqttOptions, version: 4 | 5 = 4): Promise<QuicMqttClient> {
    const quic = await QUICClient.createQUICClient({
      host: '127.0.0.1', port: o.port, localHost: '127.0.0.1', serverName: 'localhost',
      crypto: clientCrypto, logger: quiet,
      config: {
        verifyPeer: true, ca: readFileSync(o.ca, 'utf8'), applicationProtos: [o.alpn ?? 'mqtt'], maxIdleTimeout: o.idleMs ?? 0,
        ...(o.cert !== undefined && o.key !== undefined ? { cert: readFileSync(o.cert, 'utf8'), key: readFileSync(o.key, 'utf8') } : {}),
      },
    }, { timer: 5000 });
    return new QuicMqttClient(quic, version);
  }

  async send(p: Record<string, unknown>): Promise<void> {
    await this.writer.write(mqttPacket.generate(p as unknown as Packet, { protocolVersion: this.version }));
  }

  /** Bytes as they are (several packets at once, or garbage). */
  async sendRaw(buf: Buffer): Promise<void> {
    await this.writer.write(buf);
  }

  /** CONNECT and wait for CONNACK (returned, whatever its code). */
  async mqttConnect(fields: Record<string, unknown> = {}): Promise<Packet> {
    await this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: this.version, clean: true, keepalive: 60, clientId: 'quic-1', ...fields });
    return this.next('connack');
  }

  /** The next packet of this kind not yet taken (packets before it stay for later). */
  async next(cmd: Packet['cmd'], ms = 5000): Promise<Packet & Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0] as Packet & Record<string, unknown>;
      if (this.closed !== null) throw new Error(`closed while waiting for ${cmd}: ${String(this.closed.err ?? 'no error')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${cmd} within ${ms} ms`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** Resolves when the broker ended the stream or closed the connection. */
  async ended(ms = 5000): Promise<{ err?: unknown }> {
    const deadline = Date.now() + ms;
    while (this.closed === null) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`still open after ${ms} ms`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return this.closed;
  }

  /** Orderly: FIN on the stream, then CONNECTION_CLOSE with code 0. */
  async close(): Promise<void> {
    await this.writer.close().catch(() => {});
    await this.quic.destroy({ isApp: true, errorCode: 0, force: true }).catch(() => {});
  }

  /** Abrupt: CONNECTION_CLOSE with an application error, no DISCONNECT. */
  async abort(code = 7): Promise<void> {
    await this.quic.destroy({ isApp: true, errorCode: code, force: true }).catch(() => {});
  }

  private async readLoop(): Promise<void> {
    const reader = this.stream.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.parser.parse(Buffer.from(value));
      }
      this.closed ??= {};
    } catch (err) {
      this.closed ??= { err };
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface UdpRelay {
  /** The port clients send to. */
  port: number;
  /** Source port the broker currently sees. */
  upstreamPort(): number;
  /** Forward from a fresh source port from now on (NAT rebinding). */
  rebind(): Promise<void>;
  /** Drop every datagram both ways (true) or pass them again (false). */
  blackhole(on: boolean): void;
  close(): void;
}

/** A loopback relay: one client address ↔ the broker at `target`, via a replaceable upstream socket. */
export async function udpRelay(target: number): Promise<UdpRelay> {
  const front = createSocket('udp4');
  front.bind(0, '127.0.0.1');
  await once(front, 'listening');
  let client: RemoteInfo | null = null;
  let dropping = false;
  const open = async (): Promise<UdpSocket> => {
    const s = createSocket('udp4');
    s.on('message', (msg) => { if (!dropping && client !== null) front.send(msg, client.port, client.address); });
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  };
  let up = await open();
  front.on('message', (msg, rinfo) => {
    client = rinfo;
    if (!dropping) up.send(msg, target, '127.0.0.1');
  });
  return {
    port: front.address().port,
    upstreamPort: () => up.address().port,
    async rebind() { const old = up; up = await open(); old.close(); },
    blackhole(on) { dropping = on; },
    close() { front.close(); up.close(); },
  };
}
