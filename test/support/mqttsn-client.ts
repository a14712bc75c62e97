/**
 * Test support: an MQTT-SN 1.2 client over a real UDP socket on loopback, built from the
 * spec's message layouts (encoded with the gateway's codec, whose octets the codec unit tests
 * check against the spec by hand). Received messages queue up; `next(type)` takes the first of
 * that type, waiting for it if need be.
 */
import { createSocket, type Socket } from 'node:dgram';
import { decode, encode, type SnMessage, type SnQoS, type TopicIdType } from '../../broker/src/gateway/mqttsn/codec.js';

/** The message variant whose `type` may be T (variants sharing a shape have a union of types). */
type Variant<M, T> = M extends { type: infer U } ? (T extends U ? M : never) : never;
type Of<T extends SnMessage['type']> = Variant<SnMessage, T>;

export class SnClient {
  readonly socket: Socket;
  readonly port: number;
  readonly received: SnMessage[] = [];
  private waiters: Array<{ type: string; resolve: (m: SnMessage) => void }> = [];
  private msgId = 1;

  private constructor(socket: Socket, port: number) {
    this.socket = socket;
    this.port = port;
    socket.on('message', (buf) => {
      const r = decode(buf);
      if (!r.ok) return;
      const i = this.waiters.findIndex((w) => w.type === r.msg.type);
      if (i >= 0) { const w = this.waiters.splice(i, 1)[0]; w.resolve(r.msg); } else this.received.push(r.msg);
    });
  }

  static async open(gatewayPort: number): Promise<SnClient> {
    const s = createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    return new SnClient(s, gatewayPort);
  }

  get localPort(): number { return this.socket.address().port; }

  send(m: SnMessage): void { this.sendRaw(encode(m)); }
  sendRaw(buf: Buffer): void { this.socket.send(buf, this.port, '127.0.0.1'); }

  /** The first message of this type (already received or the next one), or a rejection after `ms`. */
  next<T extends SnMessage['type']>(type: T, ms = 5000): Promise<Of<T>> {
    const i = this.received.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0] as Of<T>);
    return new Promise((resolve, reject) => {
      const w = { type, resolve: resolve as (m: SnMessage) => void };
      this.waiters.push(w);
      setTimeout(() => {
        const k = this.waiters.indexOf(w);
        if (k >= 0) { this.waiters.splice(k, 1); reject(new Error(`no ${type} within ${ms} ms (have: ${this.received.map((m) => m.type).join(',') || 'nothing'})`)); }
      }, ms).unref();
    });
  }

  /** Resolves to undefined when no message of this type comes within `ms`. */
  async none(type: SnMessage['type'], ms = 400): Promise<SnMessage | undefined> {
    try { return await this.next(type, ms); } catch { return undefined; }
  }

  id(): number { const i = this.msgId; this.msgId = i >= 0xffff ? 1 : i + 1; return i; }

  async connect(clientId: string, o: { duration?: number; clean?: boolean; will?: { topic: string; payload: string; qos?: SnQoS; retain?: boolean } } = {}): Promise<number> {
    this.send({ type: 'connect', will: o.will !== undefined, cleanSession: o.clean ?? true, protocolId: 1, duration: o.duration ?? 60, clientId });
    if (o.will !== undefined) {
      await this.next('willtopicreq');
      this.send({ type: 'willtopic', qos: o.will.qos ?? 0, retain: o.will.retain ?? false, topic: o.will.topic });
      await this.next('willmsgreq');
      this.send({ type: 'willmsg', payload: Buffer.from(o.will.payload) });
    }
    return (await this.next('connack')).returnCode;
  }

  async register(topicName: string): Promise<Of<'regack'>> {
    const msgId = this.id();
    this.send({ type: 'register', topicId: 0, msgId, topicName });
    return this.next('regack');
  }

  async subscribe(topic: string | number, qos: SnQoS = 0, topicIdType: TopicIdType = 0): Promise<Of<'suback'>> {
    const msgId = this.id();
    this.send({ type: 'subscribe', dup: false, qos, topicIdType, msgId, topicName: typeof topic === 'string' ? topic : '', topicId: typeof topic === 'number' ? topic : 0 });
    return this.next('suback');
  }

  /** Publishes; for QoS 1 resolves to the PUBACK, for QoS 2 completes the PUBREC/PUBREL/PUBCOMP flow. */
  async publish(topicId: number, payload: string | Buffer, qos: SnQoS = 0, topicIdType: TopicIdType = 0, retain = false): Promise<number> {
    const msgId = qos > 0 ? this.id() : 0;
    this.send({ type: 'publish', dup: false, qos, retain, topicIdType, topicId, msgId, payload: Buffer.from(payload) });
    if (qos === 1) return (await this.next('puback')).returnCode;
    if (qos === 2) {
      const rec = await Promise.race([this.next('pubrec'), this.next('puback')]);
      if (rec.type === 'puback') return rec.returnCode;
      this.send({ type: 'pubrel', msgId });
      await this.next('pubcomp');
    }
    return 0;
  }

  /** Acknowledges an incoming PUBLISH as its QoS wants (PUBACK, or PUBREC then PUBCOMP on PUBREL). */
  async ack(p: Of<'publish'>): Promise<void> {
    if (p.qos === 1) this.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
    if (p.qos === 2) {
      this.send({ type: 'pubrec', msgId: p.msgId });
      const rel = await this.next('pubrel');
      this.send({ type: 'pubcomp', msgId: rel.msgId });
    }
  }

  close(): void { try { this.socket.close(); } catch { /* already closed */ } }
}
