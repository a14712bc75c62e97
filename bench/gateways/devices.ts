/**
 * The devices of the gateway benchmark: one client per protocol path into Petrel, each sending
 * stamped messages (./stamp.ts) to its own topic as fast as the driver asks.
 *
 *   mqtt    MQTT 3.1.1 over TCP, QoS 0 or 1 (the reference path)
 *   mqttsn  MQTT-SN 1.2 over UDP: CONNECT, REGISTER the topic, PUBLISH QoS 0 or 1 with the
 *           registered topic id (the gateway's own codec encodes)
 *   coap    CoAP over UDP, connectionless: POST /ps/{topic}?c=<clientid>, NON (QoS 0) or CON (QoS 1)
 *   ocpp    OCPP 1.6-J over WebSocket (subprotocol ocpp1.6): a DataTransfer CALL per message,
 *           published by the gateway to ocpp/cp/{cid}
 *   quic    MQTT 3.1.1 over QUIC (@matrixai/quic, ALPN mqtt), QoS 1 on the first stream
 *
 * A device counts the acknowledgements it gets (PUBACK, CoAP ACK/2.04) but never waits for one:
 * the driver (./load.ts) keeps each device's messages in flight end to end under a window. Over
 * UDP, a QoS 1 PUBLISH or CON request not acknowledged in RETRY_MS is sent again (Resender).
 */
import net from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { generate as coapGenerate } from 'coap-packet';
import { decode as snDecode, encode as snEncode } from '../../broker/src/gateway/mqttsn/codec.js';
import { QuicMqttClient } from '../../test/support/quic-client.js';
import { FrameSplitter, type FrameSink } from '../lib/frame-splitter.js';
import { connectPacket, publishTemplate, DISCONNECT, type PublishTemplate } from '../lib/packets.js';
import { ocppCall, writeStamp } from './stamp.js';

export type DeviceKind = 'mqtt' | 'mqttsn' | 'coap' | 'ocpp' | 'quic';

export interface DeviceSpec {
  kind: DeviceKind;
  qos: 0 | 1;
  /** The port of the path: MQTT TCP, the gateway's UDP or WebSocket listener, the QUIC listener. */
  port: number;
  clientId: string;
  /** The topic the device publishes to (OCPP: fixed by the gateway, cp/{cid} under its mountpoint). */
  topic: string;
  payload: number;
  /** PEM file of the CA the QUIC listener's certificate is checked against. */
  ca?: string;
}

export interface Device {
  readonly index: number;
  /** Acknowledgements received from the broker or gateway. */
  acks: number;
  /** The first error the device met (its connection closed or failed), or null. */
  error: string | null;
  /** Datagrams sent again for want of an acknowledgement (QoS 1 / CON over UDP). */
  readonly retries?: number;
  send(seq: number, sentAt: number): void;
  close(): Promise<void>;
}

const CONNECT_MS = 10_000;

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

/** MQTT over TCP: a PUBLISH template patched per message (packet id, stamp). */
class MqttDevice implements Device, FrameSink {
  acks = 0;
  error: string | null = null;
  private readonly splitter = new FrameSplitter(this);
  private onConnack: ((code: number) => void) | null = null;
  private pid = 0;

  constructor(readonly index: number, private readonly sock: net.Socket, private readonly t: PublishTemplate) {
    sock.setNoDelay(true);
    sock.on('data', (b: Buffer) => { try { this.splitter.push(b); } catch (e) { this.fail(e as Error); } });
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => { this.error ??= 'connection closed'; });
  }

  static async open(spec: DeviceSpec, index: number): Promise<Device> {
    const sock = net.connect({ host: '127.0.0.1', port: spec.port });
    const d = new MqttDevice(index, sock, publishTemplate(spec.topic, spec.qos, spec.payload));
    const code = await timeout(new Promise<number>((resolve) => {
      d.onConnack = resolve;
      sock.write(connectPacket(spec.clientId, true, 600));
    }), CONNECT_MS, `${spec.clientId} CONNECT`);
    if (code !== 0) throw new Error(`${spec.clientId}: CONNACK return code ${code}`);
    return d;
  }

  onFrame(header: number, buf: Buffer, start: number): void {
    const type = header >> 4;
    if (type === 4) this.acks++;
    else if (type === 2) { this.onConnack?.(buf[start + 1]); this.onConnack = null; }
  }

  send(seq: number, sentAt: number): void {
    const { frame, pidOffset, payloadOffset } = this.t;
    if (pidOffset >= 0) { this.pid = this.pid >= 0xffff ? 1 : this.pid + 1; frame.writeUInt16BE(this.pid, pidOffset); }
    writeStamp(frame, payloadOffset, this.index, seq, sentAt);
    // A copy: the socket may still hold the last one when the template is patched again.
    this.sock.write(Buffer.from(frame));
  }

  private fail(e: Error): void { this.error ??= e.message; this.sock.destroy(); }

  async close(): Promise<void> {
    if (!this.sock.destroyed) this.sock.end(DISCONNECT);
    this.sock.destroy();
  }
}

/** How long a QoS 1 / CON datagram waits for its acknowledgement before it is sent again. */
export const RETRY_MS = 500;
const MAX_TRIES = 5;

/**
 * Retransmission of acknowledged datagrams, as a real MQTT-SN or CoAP client does (MQTT-SN 6.13
 * Tretry, RFC 7252 4.2): over UDP a datagram the kernel dropped (the receiver's socket buffer
 * full) is otherwise lost, QoS 1 or not. Shorter than the protocols' defaults (10 s, 2 s) so a
 * drop shows as a late message, not a stalled window.
 */
class Resender {
  private readonly pending = new Map<number, { frame: Buffer; at: number; tries: number }>();
  private readonly timer: NodeJS.Timeout;
  retries = 0;

  constructor(private readonly resend: (frame: Buffer) => void) {
    this.timer = setInterval(() => this.tick(), 100);
  }

  add(id: number, frame: Buffer): void { this.pending.set(id, { frame, at: performance.now(), tries: 1 }); }
  ack(id: number): void { this.pending.delete(id); }
  stop(): void { clearInterval(this.timer); this.pending.clear(); }

  private tick(): void {
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (now - p.at < RETRY_MS) continue;
      if (p.tries >= MAX_TRIES) { this.pending.delete(id); continue; }
      p.tries++;
      p.at = now;
      this.retries++;
      this.resend(p.frame);
    }
  }
}

/** A UDP socket bound to loopback, sending to one port. */
async function udp(onMessage: (b: Buffer) => void): Promise<UdpSocket> {
  const s = createSocket('udp4');
  s.on('message', onMessage);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

class SnDevice implements Device {
  acks = 0;
  error: string | null = null;
  private topicId = 0;
  private msgId = 0;
  private waiter: ((type: string, m: Record<string, unknown>) => void) | null = null;
  private readonly body: Buffer;
  private readonly resender: Resender;

  private constructor(readonly index: number, private readonly sock: UdpSocket, private readonly port: number, private readonly qos: 0 | 1, size: number) {
    this.body = Buffer.alloc(size, 0x61);
    this.resender = new Resender((frame) => this.sock.send(frame, this.port, '127.0.0.1'));
  }

  get retries(): number { return this.resender.retries; }

  static async open(spec: DeviceSpec, index: number): Promise<Device> {
    let d: SnDevice | null = null;
    const sock = await udp((b) => d?.onMessage(b));
    d = new SnDevice(index, sock, spec.port, spec.qos, spec.payload);
    sock.on('error', (e) => { d!.error ??= e.message; });
    const connack = await d.request({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 600, clientId: spec.clientId }, 'connack');
    if (connack.returnCode !== 0) throw new Error(`${spec.clientId}: MQTT-SN CONNACK return code ${String(connack.returnCode)}`);
    const regack = await d.request({ type: 'register', topicId: 0, msgId: 1, topicName: spec.topic }, 'regack');
    if (regack.returnCode !== 0) throw new Error(`${spec.clientId}: REGACK return code ${String(regack.returnCode)}`);
    d.topicId = Number(regack.topicId);
    return d;
  }

  private request(m: Parameters<typeof snEncode>[0], answer: string): Promise<Record<string, unknown>> {
    return timeout(new Promise((resolve) => {
      this.waiter = (type, msg) => { if (type === answer) { this.waiter = null; resolve(msg); } };
      this.sock.send(snEncode(m), this.port, '127.0.0.1');
    }), CONNECT_MS, `MQTT-SN ${m.type}`);
  }

  private onMessage(b: Buffer): void {
    const r = snDecode(b);
    if (!r.ok) return;
    if (r.msg.type === 'puback') { this.acks++; this.resender.ack(r.msg.msgId); }
    else this.waiter?.(r.msg.type, r.msg as unknown as Record<string, unknown>);
  }

  send(seq: number, sentAt: number): void {
    this.msgId = this.msgId >= 0xffff ? 1 : this.msgId + 1;
    const payload = Buffer.from(this.body);
    writeStamp(payload, 0, this.index, seq, sentAt);
    const m = { type: 'publish', dup: false, qos: this.qos, retain: false, topicIdType: 0, topicId: this.topicId, msgId: this.qos > 0 ? this.msgId : 0, payload } as const;
    this.sock.send(snEncode(m), this.port, '127.0.0.1');
    if (this.qos === 1) this.resender.add(this.msgId, snEncode({ ...m, dup: true }));
  }

  async close(): Promise<void> {
    this.resender.stop();
    try { this.sock.send(snEncode({ type: 'disconnect', duration: null }), this.port, '127.0.0.1', () => this.sock.close()); } catch { /* closed */ }
  }
}

/** CoAP: a prebuilt request whose message id, token and payload are patched per message. */
class CoapDevice implements Device {
  acks = 0;
  error: string | null = null;
  private mid = randomBytes(2).readUInt16BE(0);
  private readonly frame: Buffer;
  private readonly payloadAt: number;
  private readonly resender: Resender;
  private readonly con: boolean;

  private constructor(readonly index: number, private readonly sock: UdpSocket, private readonly port: number, spec: DeviceSpec) {
    this.con = spec.qos === 1;
    this.resender = new Resender((frame) => this.sock.send(frame, this.port, '127.0.0.1'));
    const options = [
      ...['ps', ...spec.topic.split('/')].map((seg) => ({ name: 'Uri-Path', value: Buffer.from(seg) })),
      { name: 'Uri-Query', value: Buffer.from(`c=${spec.clientId}`) },
    ];
    const payload = Buffer.alloc(spec.payload, 0x61);
    this.frame = coapGenerate({ code: 'POST', confirmable: spec.qos === 1, messageId: 0, token: Buffer.alloc(4), options: options as never, payload });
    this.payloadAt = this.frame.length - payload.length;
  }

  static async open(spec: DeviceSpec, index: number): Promise<Device> {
    let d: CoapDevice | null = null;
    const sock = await udp((b) => d?.onMessage(b));
    d = new CoapDevice(index, sock, spec.port, spec);
    sock.on('error', (e) => { d!.error ??= e.message; });
    return d;
  }

  private onMessage(b: Buffer): void {
    // 2.04 Changed (code 0x44), as an ACK of a CON request or a NON answer.
    if (b.length >= 4 && b[1] === 0x44) { this.acks++; this.resender.ack(b.readUInt16BE(2)); }
  }

  get retries(): number { return this.resender.retries; }

  send(seq: number, sentAt: number): void {
    const f = Buffer.from(this.frame);
    this.mid = (this.mid + 1) & 0xffff;
    f.writeUInt16BE(this.mid, 2);
    f.writeUInt32BE(seq >>> 0, 4);
    writeStamp(f, this.payloadAt, this.index, seq, sentAt);
    this.sock.send(f, this.port, '127.0.0.1');
    if (this.con) this.resender.add(this.mid, f);
  }

  async close(): Promise<void> {
    this.resender.stop();
    try { this.sock.close(); } catch { /* closed */ }
  }
}

class OcppDevice implements Device {
  acks = 0;
  error: string | null = null;

  private constructor(readonly index: number, private readonly ws: WebSocket) {
    ws.on('message', () => { this.acks++; });
    ws.on('close', () => { this.error ??= 'WebSocket closed'; });
    ws.on('error', (e) => { this.error ??= e.message; });
  }

  static async open(spec: DeviceSpec, index: number): Promise<Device> {
    const ws = new WebSocket(`ws://127.0.0.1:${spec.port}/ocpp/${spec.clientId}`, ['ocpp1.6'], { perMessageDeflate: false });
    await timeout(new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`${spec.clientId}: OCPP upgrade refused with HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    }), CONNECT_MS, `${spec.clientId} OCPP upgrade`).catch((e: Error) => { ws.terminate(); throw e; });
    return new OcppDevice(index, ws);
  }

  send(seq: number, sentAt: number): void {
    this.ws.send(ocppCall(this.index, seq, sentAt));
  }

  async close(): Promise<void> { this.ws.terminate(); }
}

/**
 * MQTT over QUIC. A stream write settles only once quiche took the chunk, and each costs a
 * round through the library: like the broker's side (transport/quic-connection.ts), messages
 * written meanwhile are queued and go out together in the next write.
 */
class QuicDevice implements Device {
  acks = 0;
  error: string | null = null;
  private pid = 0;
  private queue: Buffer[] = [];
  private writing = false;

  private constructor(readonly index: number, private readonly c: QuicMqttClient, private readonly t: PublishTemplate) {}

  static async open(spec: DeviceSpec, index: number): Promise<Device> {
    if (spec.ca === undefined) throw new Error('the QUIC device needs the CA file');
    const c = await QuicMqttClient.connect({ port: spec.port, ca: spec.ca });
    const ack = (await c.mqttConnect({ clientId: spec.clientId, keepalive: 600 })) as { returnCode?: number };
    if (ack.returnCode !== 0) { await c.abort(0); throw new Error(`${spec.clientId}: CONNACK over QUIC return code ${String(ack.returnCode)}`); }
    return new QuicDevice(index, c, publishTemplate(spec.topic, 1, spec.payload));
  }

  send(seq: number, sentAt: number): void {
    // The client keeps every packet it parses for next(): only PUBACKs come here, counted and let go.
    const got = this.c.packets;
    if (got.length > 0) { this.acks += got.length; got.length = 0; }
    if (this.c.closed !== null) { this.error ??= `QUIC connection closed: ${String(this.c.closed.err ?? '')}`; return; }
    const { frame, pidOffset, payloadOffset } = this.t;
    this.pid = this.pid >= 0xffff ? 1 : this.pid + 1;
    frame.writeUInt16BE(this.pid, pidOffset);
    writeStamp(frame, payloadOffset, this.index, seq, sentAt);
    this.queue.push(Buffer.from(frame));
    if (!this.writing) void this.pump();
  }

  private async pump(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0 && this.error === null) {
        const chunk = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue);
        this.queue = [];
        await this.c.sendRaw(chunk);
      }
    } catch (e) {
      this.error ??= (e as Error).message;
    } finally {
      this.writing = false;
    }
  }

  async close(): Promise<void> { await this.c.close(); }
}

export function openDevice(spec: DeviceSpec, index: number): Promise<Device> {
  switch (spec.kind) {
    case 'mqtt': return MqttDevice.open(spec, index);
    case 'mqttsn': return SnDevice.open(spec, index);
    case 'coap': return CoapDevice.open(spec, index);
    case 'ocpp': return OcppDevice.open(spec, index);
    case 'quic': return QuicDevice.open(spec, index);
  }
}
