/**
 * The listener manager: every listener of the config (`listeners.<type>.<name>`), started,
 * stopped and restarted by id ('tcp:default', 'wss:internal'), with live counters for the
 * API and metrics. start() binds every enabled listener or none: on the first failure the
 * ones already bound are closed and a ListenerError names the listener and its address.
 * Every listener here speaks MQTT (`spec.protocol` 'mqtt'), quic ones included (quic.ts);
 * gateway listeners name their own.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { CrlCache, type CrlCacheConfig } from './crl.js';
import { ListenerError } from './errors.js';
import { Listener, type AnyListenerConfig, type ListenerStatus, type StreamTransportType } from './listener.js';
import { QuicListener, type QuicListenerConfig } from './quic.js';
import { rawTcpChoice, type RawTcpChoice } from './raw-tcp.js';
import type { OnConnection } from './types.js';

const TYPES: readonly StreamTransportType[] = ['tcp', 'ssl', 'ws', 'wss'];
const PROTOCOL = 'mqtt';

export interface ListenersOptions {
  /** The Node version the raw TCP gate judges (tests pass another); default process.version. */
  nodeVersion?: string;
  /** `crl_cache`: how CRLs named by client certificates are fetched (defaults as EMQX). */
  crlCache?: CrlCacheConfig;
}

function setConfig(l: Listener | QuicListener, cfg: AnyListenerConfig | QuicListenerConfig): void {
  if (l instanceof QuicListener) l.cfg = cfg as QuicListenerConfig;
  else l.cfg = cfg as AnyListenerConfig;
}

const CRL_CACHE_DEFAULTS: CrlCacheConfig = { refresh_interval: 15 * 60_000, http_timeout: 15_000, capacity: 100 };

export class Listeners {
  private readonly byId: Map<string, Listener | QuicListener>;
  private readonly log: Logger;
  /** Whether tcp listeners with raw_sockets may use raw handles on this Node; decided once. */
  private readonly rawTcp: RawTcpChoice;
  private rawTcpLogged: boolean;

  constructor(cfg: Config['listeners'], onConnection: OnConnection, log: Logger, opts: ListenersOptions = {}) {
    this.byId = new Map();
    this.log = log;
    this.rawTcp = rawTcpChoice(opts.nodeVersion ?? process.version);
    this.rawTcpLogged = false;
    // One per node: listeners naming the same distribution point share its CRL.
    const crlCache = new CrlCache(opts.crlCache ?? CRL_CACHE_DEFAULTS, log);
    for (const type of TYPES) {
      for (const [name, l] of Object.entries(cfg[type])) {
        const listener = new Listener(type, name, l as AnyListenerConfig, onConnection, log, { protocol: PROTOCOL, rawTcp: this.rawTcp, crlCache });
        this.byId.set(listener.id, listener);
      }
    }
    for (const [name, l] of Object.entries(cfg.quic)) {
      const listener = new QuicListener(name, l, onConnection, log, { protocol: PROTOCOL });
      this.byId.set(listener.id, listener);
    }
  }

  /** Start every enabled listener; all or nothing. */
  async start(): Promise<void> {
    this.logRawTcpOnce();
    const started: Array<Listener | QuicListener> = [];
    for (const l of this.byId.values()) {
      if (!l.cfg.enable || l.running) continue;
      try {
        await l.start();
        started.push(l);
      } catch (err) {
        await Promise.all(started.map((s) => s.stop()));
        throw err;
      }
    }
  }

  /** Stop accepting on every listener (established connections are not touched). */
  async stop(): Promise<void> {
    await Promise.all([...this.byId.values()].map((l) => l.stop()));
  }

  /** Start one listener by id, whether or not it is enabled in the config. */
  async startOne(id: string): Promise<void> {
    await this.get(id).start();
  }

  async stopOne(id: string): Promise<void> {
    await this.get(id).stop();
  }

  /**
   * Stop then start again, re-reading certificate files; with `cfg`, the listener takes that
   * config first. A listener bound to port 0 keeps its actual port (see Listener.start).
   */
  async restartOne(id: string, cfg?: AnyListenerConfig | QuicListenerConfig): Promise<void> {
    const l = this.get(id);
    await l.stop();
    if (cfg) setConfig(l, cfg);
    await l.start();
  }

  /** A listener's config as it runs now (changed by updateOne). */
  configOf(id: string): AnyListenerConfig | QuicListenerConfig {
    return this.get(id).cfg;
  }

  /**
   * Applies a new config by stopping the listener and starting it again with it (not started
   * when `cfg.enable` is false). When the start fails, the old config is put back and started
   * again if it was running, and the error is thrown.
   */
  async updateOne(id: string, cfg: AnyListenerConfig | QuicListenerConfig): Promise<void> {
    const l = this.get(id);
    const old = l.cfg;
    const wasRunning = l.running;
    await l.stop();
    setConfig(l, cfg);
    if (!cfg.enable) return;
    try {
      await l.start();
    } catch (err) {
      setConfig(l, old);
      if (wasRunning) await l.start().catch((again: unknown) => this.log.error({ err: again, listener: id }, 'listener could not be restarted with its old config'));
      throw err;
    }
  }

  list(): ListenerStatus[] {
    return [...this.byId.values()].map((l) => l.status());
  }

  /** The port a running listener is bound to (the OS-chosen one when bind says port 0). */
  boundPort(id: string): number {
    const l = this.get(id);
    if (!l.running) throw new ListenerError(id, l.cfg.bind, 'NOT_RUNNING', `listener ${id} is not running`);
    return l.boundPort;
  }

  /**
   * Says once, at the first start(), which implementation the tcp listeners that ask for raw
   * sockets get and why: info on a tested Node, warn when they fall back to net.Socket.
   */
  private logRawTcpOnce(): void {
    if (this.rawTcpLogged) return;
    const ids = [...this.byId.values()].filter((l) => l instanceof Listener && l.cfg.enable && l.rawTcp !== null).map((l) => l.id);
    if (ids.length === 0) return;
    this.rawTcpLogged = true;
    const msg = `tcp listeners with raw_sockets: ${this.rawTcp.reason}`;
    if (this.rawTcp.raw) this.log.info({ listeners: ids }, msg);
    else this.log.warn({ listeners: ids }, msg);
  }

  private get(id: string): Listener | QuicListener {
    const l = this.byId.get(id);
    if (!l) throw new ListenerError(id, '', 'UNKNOWN_LISTENER', `no listener ${id}; known: ${[...this.byId.keys()].join(', ')}`);
    return l;
  }
}
