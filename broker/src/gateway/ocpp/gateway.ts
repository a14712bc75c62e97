/**
 * The OCPP 1.6-J gateway (`gateway.ocpp`): WebSocket listeners where charge points connect at
 * `<path>/<chargePointId>` (listener.ts), one OcppChannel per charge point (channel.ts), and the
 * gateway's timers and REST rows. Charge points are clients like any other: their session
 * lives in the client manager, so /api/v5/clients lists them with proto_name "OCPP", a second
 * connection with the same id takes the first one over, and kicking works.
 */
import type { WebSocket } from 'ws';
import type { ClientConnection } from '../../clients/client-manager.js';
import type { ClientInfo } from '../../hooks.js';
import type { Config } from '../../config/index.js';
import { GatewayContext } from '../context.js';
import type { Gateway, GatewayDeps, GatewayType } from '../registry.js';
import { OcppChannel, type OcppShared } from './channel.js';
import type { OcppConfig } from './config.js';
import { OcppListener } from './listener.js';
import { OcppMetrics } from './metrics.js';

export const ocppGateway: GatewayType = {
  name: 'ocpp',
  create: (cfg, deps) => (cfg.gateway.ocpp === null ? null : new OcppGateway(cfg.gateway.ocpp, deps)),
  enabledAtStart: (cfg: Config) => cfg.gateway.ocpp !== null && cfg.gateway.ocpp.enable,
};

export class OcppGateway implements Gateway {
  readonly name = 'ocpp';
  readonly metrics = new OcppMetrics();
  readonly createdAt = Date.now();
  startedAt = 0;
  stoppedAt = 0;
  private readonly cfg: OcppConfig;
  private readonly shared: OcppShared;
  private readonly listenersList: OcppListener[];
  private readonly channels = new Set<OcppChannel>();
  private readonly forget = (ch: OcppChannel): void => { this.channels.delete(ch); };
  private isRunning = false;

  constructor(cfg: OcppConfig, deps: GatewayDeps) {
    this.cfg = cfg;
    const log = deps.log.child({ gateway: 'ocpp' });
    // EMQX shows proto_ver "1.6"; ClientInfo carries a number.
    const ctx = new GatewayContext({ name: 'ocpp', protoName: 'OCPP', protoVer: 1.6, broker: deps.broker, clients: deps.clients, cfg, limits: deps.limits, metrics: this.metrics, log });
    this.shared = { ctx, cfg, metrics: this.metrics };
    const onChargePoint = (ws: WebSocket, info: ClientInfo, mountpoint: string, done: () => void): void => this.accept(ws, info, mountpoint, done);
    this.listenersList = cfg.listeners.filter((l) => l.enable).map((l) => new OcppListener(l, ctx, onChargePoint, log));
  }

  get running(): boolean { return this.isRunning; }

  async start(): Promise<void> {
    if (this.isRunning) return;
    const started: OcppListener[] = [];
    try {
      for (const l of this.listenersList) { await l.start(); started.push(l); }
    } catch (err) {
      for (const l of started) await l.stop();
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
    for (const l of this.listenersList) await l.stop();
  }

  /** Port a listener is bound to while running (tests bind port 0). */
  port(name = 'default', type: 'ws' | 'wss' = 'ws'): number {
    return this.listenersList.find((l) => l.cfg.name === name && l.cfg.type === type)?.boundPort ?? 0;
  }

  tick(now: number): void { for (const ch of this.channels) ch.tick(now); }

  clients(): ClientConnection[] { return [...this.channels].filter((ch) => ch.open); }

  maxConnections(): number {
    let n = 0;
    for (const l of this.listenersList) n += l.cfg.maxConnections;
    return n;
  }

  listeners(): Array<Record<string, unknown>> {
    return this.cfg.listeners.map((c) => {
      const l = this.listenersList.find((x) => x.cfg === c);
      return {
        id: `ocpp:${c.type}:${c.name}`, type: c.type, name: c.name, protocol: 'ocpp', bind: c.bind, enable: c.enable,
        running: l?.running ?? false, port: l?.boundPort ?? 0, path: c.path,
        current_connections: l?.current ?? 0, max_connections: c.maxConnections, max_conn_rate: c.maxConnRate,
        accepted: l?.accepted ?? 0, refused: l?.refused ?? 0,
      };
    });
  }

  private accept(ws: WebSocket, info: ClientInfo, mountpoint: string, done: () => void): void {
    const ch = new OcppChannel(ws, this.shared, info, mountpoint);
    ch.onClosed = this.forget;
    ws.once('close', done);
    if (!this.isRunning) { ws.close(1001, 'gateway stopped'); return; }
    this.channels.add(ch);
    ch.start().catch((err) => {
      this.shared.ctx.log.error({ err, clientid: info.clientId }, 'OCPP session could not be opened');
      ws.close(1011, 'session not opened');
      ch.close('open_failed');
    });
  }
}
