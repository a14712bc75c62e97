/**
 * The MQTT subscriber of the gateway benchmark: one MQTT 3.1.1 client over TCP, subscribed at
 * QoS 1 to where the devices publish, handing each message's stamp (./stamp.ts) and its arrival
 * time to the driver. PUBACKs produced while reading one chunk go out in one write.
 */
import net from 'node:net';
import { FrameSplitter, type FrameSink } from '../lib/frame-splitter.js';
import { connectPacket, subscribePacket, publishPayloadStart, DISCONNECT, PUBACK } from '../lib/packets.js';
import { readStamp, type Stamp } from './stamp.js';

export class GwSubscriber implements FrameSink {
  received = 0;
  /** Messages without a readable stamp (never expected: a broken path shows here). */
  unreadable = 0;
  error: string | null = null;
  /** Called for every stamped message with performance.now() at its arrival. */
  onMessage: (s: Stamp, now: number) => void = () => undefined;
  private readonly splitter = new FrameSplitter(this);
  private acks: Buffer[] = [];
  private waiter: { type: number; resolve: (b: Buffer) => void } | null = null;

  /** `json`: the payloads are the OCPP gateway's JSON (else the binary stamp). */
  private constructor(private readonly sock: net.Socket, private readonly json: boolean) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (e) => { this.error ??= e.message; });
    sock.on('close', () => { this.error ??= 'subscriber connection closed'; });
  }

  static async open(port: number, clientId: string, filter: string, json: boolean, timeoutMs = 10_000): Promise<GwSubscriber> {
    const s = new GwSubscriber(net.connect({ host: '127.0.0.1', port }), json);
    try {
      const connack = await s.request(connectPacket(clientId, true, 600), 2, timeoutMs);
      if (connack[1] !== 0) throw new Error(`subscriber: CONNACK return code ${connack[1]}`);
      const suback = await s.request(subscribePacket(1, filter, 1), 9, timeoutMs);
      if (suback[suback.length - 1] !== 1) throw new Error(`subscriber: SUBACK ${suback[suback.length - 1]} for ${filter}`);
      return s;
    } catch (e) {
      s.sock.destroy();
      throw e;
    }
  }

  private request(packet: Buffer, type: number, ms: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiter = null; reject(new Error(`subscriber: no answer of type ${type} within ${ms} ms`)); }, ms);
      this.waiter = { type, resolve: (b) => { clearTimeout(t); this.waiter = null; resolve(b); } };
      this.sock.write(packet);
    });
  }

  private onData(chunk: Buffer): void {
    try {
      this.splitter.push(chunk);
    } catch (e) {
      this.error ??= (e as Error).message;
      this.sock.destroy();
      return;
    }
    if (this.acks.length > 0) {
      this.sock.write(this.acks.length === 1 ? this.acks[0] : Buffer.concat(this.acks));
      this.acks = [];
    }
  }

  onFrame(header: number, buf: Buffer, start: number, end: number): void {
    const type = header >> 4;
    if (type !== 3) {
      if (this.waiter?.type === type) this.waiter.resolve(Buffer.from(buf.subarray(start, end)));
      return;
    }
    const qos = (header >> 1) & 3;
    const at = publishPayloadStart(buf, start, qos);
    if (qos === 1) this.acks.push(Buffer.from([PUBACK, 2, buf[at - 2], buf[at - 1]]));
    this.received++;
    const stamp = readStamp(buf, at, end, this.json);
    if (stamp === null) this.unreadable++;
    else this.onMessage(stamp, performance.now());
  }

  close(): void {
    if (!this.sock.destroyed) this.sock.end(DISCONNECT);
    this.sock.destroy();
  }
}
