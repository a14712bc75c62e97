/**
 * A CoAP client built from RFC 7252 for the gateway tests, on the coap-packet codec: requests
 * as CON or NON with their answer awaited by token, notifications collected per token, ACKs
 * of CON notifications sent automatically or held back (to test retransmission and Reset),
 * and raw datagrams for the malformed cases. Also `coapClient()`: libcoap's coap-client,
 * which the tests run as a third-party peer.
 */
import { createSocket, type Socket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { generate, parse, type ParsedPacket } from 'coap-packet';

export interface CoapResponse { code: string; type: 'con' | 'non' | 'ack' | 'rst'; messageId: number; token: Buffer; payload: Buffer; options: ParsedPacket['options'] }
export interface RequestOpts {
  query?: Record<string, string | number>;
  payload?: string | Buffer;
  confirmable?: boolean;
  token?: Buffer;
  observe?: number;
  options?: Array<{ name: string | number; value: Buffer }>;
  timeoutMs?: number;
}

const typeOf = (p: ParsedPacket): CoapResponse['type'] => (p.confirmable ? 'con' : p.ack ? 'ack' : p.reset ? 'rst' : 'non');

export class RawCoap {
  readonly sock: Socket;
  readonly port: number;
  /** Every datagram received, parsed (notifications included). */
  readonly received: CoapResponse[] = [];
  /** Send ACKs for CON notifications (false: let the gateway retransmit). */
  autoAck = true;
  /** Answer CON notifications with Reset instead of ACK. */
  resetNotifications = false;
  private mid = randomBytes(2).readUInt16BE(0);
  private readonly waiters = new Map<string, (r: CoapResponse) => void>();

  private constructor(sock: Socket, port: number) {
    this.sock = sock;
    this.port = port;
    sock.on('message', (buf) => this.onMessage(buf));
  }

  static async open(port: number): Promise<RawCoap> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return new RawCoap(sock, port);
  }

  nextMid(): number { this.mid = (this.mid + 1) & 0xffff; return this.mid; }

  send(buf: Buffer): void { this.sock.send(buf, this.port, '127.0.0.1'); }

  /** One request; resolves with the response of the same token (rejects after timeoutMs). */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, o: RequestOpts = {}): Promise<CoapResponse> {
    const token = o.token ?? randomBytes(4);
    const options: Array<{ name: string | number; value: Buffer }> = [];
    if (o.observe !== undefined) options.push({ name: 'Observe', value: o.observe === 0 ? Buffer.alloc(0) : Buffer.from([o.observe]) });
    for (const seg of path.split('/').filter((s) => s !== '')) options.push({ name: 'Uri-Path', value: Buffer.from(seg) });
    for (const [k, v] of Object.entries(o.query ?? {})) options.push({ name: 'Uri-Query', value: Buffer.from(`${k}=${v}`) });
    options.push(...(o.options ?? []));
    const mid = this.nextMid();
    const buf = generate({ code: method, confirmable: o.confirmable !== false, messageId: mid, token, options: options as never, payload: typeof o.payload === 'string' ? Buffer.from(o.payload) : o.payload ?? Buffer.alloc(0) }, 65000);
    const key = token.toString('hex');
    const p = new Promise<CoapResponse>((resolve, reject) => {
      const t = setTimeout(() => { this.waiters.delete(key); reject(new Error(`no answer to ${method} ${path} in ${o.timeoutMs ?? 3000} ms`)); }, o.timeoutMs ?? 3000);
      this.waiters.set(key, (r) => { clearTimeout(t); resolve(r); });
    });
    this.send(buf);
    return p;
  }

  /** Notifications (2.05 with Observe) received on a token. */
  notifications(token: Buffer): CoapResponse[] {
    return this.received.filter((r) => r.token.equals(token) && r.options.some((o) => o.name === 'Observe') && r.type !== 'ack');
  }

  close(): void { try { this.sock.close(); } catch { /* already closed */ } }

  private onMessage(buf: Buffer): void {
    let p: ParsedPacket;
    try { p = parse(buf); } catch { return; }
    const r: CoapResponse = { code: p.code, type: typeOf(p), messageId: p.messageId, token: p.token, payload: p.payload, options: p.options };
    this.received.push(r);
    if (r.type === 'con' && (this.autoAck || this.resetNotifications)) {
      const reset = this.resetNotifications;
      this.send(generate({ code: '0.00', ack: !reset, reset, messageId: r.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
    }
    const key = r.token.toString('hex');
    const w = this.waiters.get(key);
    if (w !== undefined && (r.type === 'ack' || r.type === 'rst' || !r.options.some((o) => o.name === 'Observe') || this.isFirstAnswer(key))) {
      this.waiters.delete(key);
      w(r);
    }
  }

  /** A NON answer to an observe registration carries Observe too: the first datagram on a token is its answer. */
  private isFirstAnswer(key: string): boolean { return this.received.filter((x) => x.token.toString('hex') === key).length === 1; }
}

export function optionValue(r: CoapResponse, name: string): Buffer | undefined {
  return r.options.find((o) => o.name === name)?.value;
}

/** Runs libcoap's coap-client (Debian libcoap3-bin) with args; resolves with its stdout and stderr. */
export function coapClient(args: string[], timeoutMs = 20000): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile('coap-client-notls', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') { reject(new Error('coap-client-notls is missing: apt-get install libcoap3-bin (scripts/system-deps.sh)')); return; }
      resolve({ stdout, stderr, code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1 });
    });
  });
}
