/**
 * A minimal MQTT 3.1.1 client over WebSocket for the dashboard's quick checks: CONNECT,
 * SUBSCRIBE, PUBLISH (QoS 0 and 1), PUBACK of QoS 1 deliveries, keepalive pings, DISCONNECT.
 * Hand-written because an MQTT library for the browser would outweigh the whole dashboard;
 * QoS 2, MQTT 5 and reconnects are left to real clients.
 */
export interface Delivery { topic: string; payload: string; qos: number; retain: boolean }

export interface WsClientEvents {
  onConnected(): void;
  onMessage(m: Delivery): void;
  onClosed(reason: string): void;
}

const te = new TextEncoder();
const td = new TextDecoder();
const KEEPALIVE_S = 60;

function str(s: string): number[] {
  const b = te.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

function packet(first: number, body: number[]): Uint8Array<ArrayBuffer> {
  const len: number[] = [];
  let n = body.length;
  do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; len.push(d); } while (n > 0);
  return new Uint8Array([first, ...len, ...body]);
}

const CONNACK_TEXT = ['accepted', 'unacceptable protocol version', 'client id rejected', 'server unavailable', 'bad user name or password', 'not authorized'];

export class WsMqttClient {
  private readonly ws: WebSocket;
  private readonly ev: WsClientEvents;
  private buf = new Uint8Array(0);
  private nextId = 1;
  private ping: ReturnType<typeof setInterval> | null = null;

  constructor(url: string, opts: { clientId: string; username?: string; password?: string }, ev: WsClientEvents) {
    this.ev = ev;
    this.ws = new WebSocket(url, 'mqtt');
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => {
      let flags = 0x02;
      const payload = str(opts.clientId);
      if (opts.username) { flags |= 0x80; payload.push(...str(opts.username)); }
      if (opts.username && opts.password) { flags |= 0x40; payload.push(...str(opts.password)); }
      this.ws.send(packet(0x10, [...str('MQTT'), 4, flags, KEEPALIVE_S >> 8, KEEPALIVE_S & 0xff, ...payload]));
    };
    this.ws.onmessage = (e) => this.received(new Uint8Array(e.data as ArrayBuffer));
    this.ws.onerror = () => undefined; // onclose follows and reports
    this.ws.onclose = (e) => { this.stopPing(); ev.onClosed(e.reason || `connection closed (${e.code})`); };
  }

  subscribe(topic: string, qos: number): void {
    this.ws.send(packet(0x82, [...this.id(), ...str(topic), qos]));
  }

  publish(topic: string, payload: string, qos: number, retain: boolean): void {
    const id = qos > 0 ? this.id() : [];
    this.ws.send(packet(0x30 | (qos << 1) | (retain ? 1 : 0), [...str(topic), ...id, ...te.encode(payload)]));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(new Uint8Array([0xe0, 0]));
    this.ws.close();
  }

  private id(): number[] {
    const id = this.nextId;
    this.nextId = id === 0xffff ? 1 : id + 1;
    return [id >> 8, id & 0xff];
  }

  private stopPing(): void { if (this.ping !== null) clearInterval(this.ping); this.ping = null; }

  private received(chunk: Uint8Array): void {
    const all = new Uint8Array(this.buf.length + chunk.length);
    all.set(this.buf); all.set(chunk, this.buf.length);
    let at = 0;
    for (;;) {
      let len = 0; let mul = 1; let i = at + 1; let done = false;
      while (i < all.length && i < at + 5) { const d = all[i++]; len += (d & 0x7f) * mul; mul *= 128; if ((d & 0x80) === 0) { done = true; break; } }
      if (!done || i + len > all.length) break;
      this.handle(all[at], all.subarray(i, i + len));
      at = i + len;
    }
    this.buf = all.slice(at);
  }

  private handle(first: number, body: Uint8Array): void {
    switch (first >> 4) {
      case 2: { // CONNACK
        const rc = body[1];
        if (rc !== 0) { this.ev.onClosed(`refused: ${CONNACK_TEXT[rc] ?? rc}`); this.ws.close(); return; }
        this.ping = setInterval(() => this.ws.send(new Uint8Array([0xc0, 0])), (KEEPALIVE_S / 2) * 1000);
        this.ev.onConnected();
        return;
      }
      case 3: { // PUBLISH
        const qos = (first >> 1) & 3;
        const tlen = (body[0] << 8) | body[1];
        const topic = td.decode(body.subarray(2, 2 + tlen));
        let p = 2 + tlen;
        if (qos > 0) { this.ws.send(new Uint8Array([qos === 1 ? 0x40 : 0x50, 2, body[p], body[p + 1]])); p += 2; }
        this.ev.onMessage({ topic, payload: td.decode(body.subarray(p)), qos, retain: (first & 1) === 1 });
        return;
      }
      default: return; // SUBACK, PUBACK, PINGRESP: nothing to do
    }
  }
}
