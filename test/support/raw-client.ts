/**
 * Test support: a raw MQTT client over a TCP socket, built on mqtt-packet. It sends exactly the
 * packets a test asks for (no automatic PUBACK, PINGREQ or reconnect) and records every packet
 * the broker sends, so tests can check what a well-behaved library would hide: DUP flags,
 * packet ids, inflight windows, reason codes, and when the broker closes the connection.
 */
import { connect as net, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

// mqtt-packet's packet objects are loose records; tests read fields by name.
export type Pkt = Record<string, any> & { cmd: string };

export interface RawClient {
  sock: Socket;
  /** Every packet received, in order. */
  packets: Pkt[];
  closed: boolean;
  /** ms since epoch when the socket closed (0 while open). */
  closedAt: number;
  send(p: Pkt): void;
  /** Waits for the next received packet with this cmd (after `from`, an index into packets). */
  next(cmd: string, ms?: number, from?: number): Promise<Pkt>;
  /** Waits until the broker closes the socket. */
  waitClosed(ms?: number): Promise<void>;
  /** Sends CONNECT and waits for CONNACK. */
  connect(opts?: Partial<Pkt>): Promise<Pkt>;
  destroy(): void;
}

/** Opens a raw client to 127.0.0.1:port speaking protocolVersion (3, 4 or 5). */
export function rawClient(port: number, protocolVersion: 3 | 4 | 5 = 4): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const sock = net({ host: '127.0.0.1', port });
    const parser = mqttPacket.parser({ protocolVersion });
    const packets: Pkt[] = [];
    const waiters: Array<() => void> = [];
    const wake = (): void => { for (const w of waiters.splice(0)) w(); };
    const rc: RawClient = {
      sock, packets, closed: false, closedAt: 0,
      send(p) { sock.write(mqttPacket.generate(p as never, { protocolVersion })); },
      next(cmd, ms = 3000, from = 0) {
        return new Promise((ok, bad) => {
          const deadline = setTimeout(() => { bad(new Error(`no ${cmd} within ${ms} ms (got: ${packets.map((x) => x.cmd).join(',') || 'nothing'}${rc.closed ? ', socket closed' : ''})`)); }, ms);
          const check = (): void => {
            const hit = packets.findIndex((x, i) => i >= from && x.cmd === cmd);
            if (hit >= 0) { clearTimeout(deadline); const [x] = [packets[hit]]; packets.splice(hit, 1); ok(x); return; }
            if (rc.closed) { clearTimeout(deadline); bad(new Error(`socket closed before ${cmd} (got: ${packets.map((x) => x.cmd).join(',') || 'nothing'})`)); return; }
            waiters.push(check);
          };
          check();
        });
      },
      waitClosed(ms = 3000) {
        return new Promise((ok, bad) => {
          const deadline = setTimeout(() => bad(new Error(`socket still open after ${ms} ms`)), ms);
          const check = (): void => { if (rc.closed) { clearTimeout(deadline); ok(); } else waiters.push(check); };
          check();
        });
      },
      async connect(opts = {}) {
        rc.send({ cmd: 'connect', protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: 'raw-' + Math.random().toString(16).slice(2), ...opts });
        return rc.next('connack');
      },
      destroy() { sock.destroy(); },
    };
    parser.on('packet', (p: Pkt) => { packets.push(p); wake(); });
    parser.on('error', () => { sock.destroy(); });
    sock.on('data', (d) => parser.parse(d));
    sock.on('close', () => { rc.closed = true; rc.closedAt = Date.now(); wake(); });
    sock.once('connect', () => { sock.off('error', reject); sock.on('error', () => {}); resolve(rc); });
    sock.once('error', reject);
  });
}
