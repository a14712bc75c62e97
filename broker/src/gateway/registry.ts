/**
 * The node's gateways: each protocol (MQTT-SN now; CoAP, OCPP later) is one folder under
 * gateway/ exporting a GatewayType; this registry builds the gateways the config names, starts
 * and stops them with the node, enables and disables them at run time (REST), runs their
 * once-a-second timers and merges their counters into the node's stats.
 *
 * As in EMQX, a gateway absent from the config is "unloaded": listed by the REST API with that
 * status, but nothing of it runs.
 */
import type { Broker } from '../broker.js';
import type { ClientConnection, ClientManager } from '../clients/client-manager.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { GatewayLimits } from './context.js';
import type { GatewayMetrics } from './metrics.js';
import type { GatewaysAdmin } from '../api/routes/gateways.js';
import { mqttsnGateway } from './mqttsn/gateway.js';
import { ocppGateway } from './ocpp/gateway.js';
import { coapGateway } from './coap/gateway.js';

/** One running (or stopped) gateway of one protocol. */
export interface Gateway {
  readonly name: string;
  readonly metrics: GatewayMetrics;
  readonly running: boolean;
  readonly createdAt: number;
  startedAt: number;
  stoppedAt: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Once a second: keep alive, idle peers, resends. */
  tick(now: number): void;
  clients(): ClientConnection[];
  /** EMQX's listener rows: id, type, name, bind, running, current_connections, max_connections, and counters. */
  listeners(): Array<Record<string, unknown>>;
  maxConnections(): number;
}

export interface GatewayDeps { broker: Broker; clients: ClientManager; log: Logger; limits: GatewayLimits }

/** A protocol's entry point: builds its gateway from the node config, or null when the config leaves it unloaded. */
export interface GatewayType {
  readonly name: string;
  create(cfg: Config, deps: GatewayDeps): Gateway | null;
  /** Whether the loaded config enables it at start (`gateway.<name>.enable`). */
  enabledAtStart(cfg: Config): boolean;
}

/** Every protocol Petrel has a gateway for, in the order the REST API lists them. */
export const GATEWAY_TYPES: readonly GatewayType[] = [mqttsnGateway, coapGateway, ocppGateway];

export class GatewayRegistry implements GatewaysAdmin {
  private readonly byName = new Map<string, Gateway>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;

  constructor(cfg: Config, deps: GatewayDeps, private readonly enabledAtStart: ReadonlySet<string> = startSet(cfg)) {
    this.log = deps.log;
    for (const t of GATEWAY_TYPES) {
      const g = t.create(cfg, deps);
      if (g !== null) this.byName.set(t.name, g);
    }
  }

  /** Starts the enabled gateways; a failure stops the ones already started and rejects. */
  async start(): Promise<void> {
    try {
      for (const g of this.byName.values()) if (this.enabledAtStart.has(g.name)) await g.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.timer = setInterval(tickAll, 1000, this);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) { clearInterval(this.timer); this.timer = null; }
    for (const g of this.byName.values()) {
      try { await g.stop(); } catch (err) { this.log.error({ err, gateway: g.name }, 'gateway stop failed'); }
    }
  }

  /** @internal */ tick(now: number): void { for (const g of this.byName.values()) if (g.running) g.tick(now); }

  get(name: string): Gateway | undefined { return this.byName.get(name); }

  /** REST rows for every known gateway type, loaded or not. */
  list(): Array<Record<string, unknown>> { return GATEWAY_TYPES.map((t) => this.row(t.name)!); }

  /** null = no gateway type of this name. */
  row(name: string): Record<string, unknown> | null {
    if (!GATEWAY_TYPES.some((t) => t.name === name)) return null;
    const g = this.byName.get(name);
    if (g === undefined) return { name, status: 'unloaded' };
    const iso = (t: number): string | null => (t === 0 ? null : new Date(t).toISOString());
    return {
      name, status: g.running ? 'running' : 'stopped', enable: g.running,
      created_at: iso(g.createdAt), started_at: iso(g.startedAt), stopped_at: iso(g.stoppedAt),
      current_connections: g.metrics.clients, max_connections: g.maxConnections(),
      listeners: g.listeners().map((l) => ({ id: l.id, type: l.type, name: l.name, running: l.running })),
      metrics: g.metrics.snapshot(),
    };
  }

  /** Enables or disables a loaded gateway; false = unknown or unloaded. */
  async setEnabled(name: string, enable: boolean): Promise<boolean> {
    const g = this.byName.get(name);
    if (g === undefined) return false;
    if (enable && !g.running) await g.start();
    else if (!enable && g.running) await g.stop();
    return true;
  }

  clientIds(name: string): string[] | null {
    const g = this.byName.get(name);
    return g === undefined ? null : g.clients().map((c) => c.info.clientId);
  }

  listeners(name: string): Array<Record<string, unknown>> | null {
    const g = this.byName.get(name);
    return g === undefined ? null : g.listeners();
  }

  /** `gateway.<name>.<counter>` for every loaded gateway, for the node's stats and Prometheus. */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const g of this.byName.values()) for (const [k, v] of Object.entries(g.metrics.snapshot())) out[`gateway.${g.name}.${k}`] = v;
    return out;
  }
}

function startSet(cfg: Config): Set<string> {
  return new Set(GATEWAY_TYPES.filter((t) => t.enabledAtStart(cfg)).map((t) => t.name));
}

function tickAll(r: GatewayRegistry): void { r.tick(Date.now()); }
