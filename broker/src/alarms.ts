/**
 * Alarms, as EMQX keeps them: a named condition is activated once (with details and a
 * message) and deactivated when it clears; a deactivated alarm stays in the history until
 * DELETE /api/v5/alarms clears it. The node samples what it already counts once a second
 * and `check` turns each sample into activations and deactivations:
 *
 * - `high_system_memory_usage`: the host's used memory over sysmem_high_watermark (70%, EMQX's default);
 * - `high_cpu_usage`: the 1-minute load average per CPU over cpu_high_watermark (80%), back
 *   under cpu_low_watermark (60%) to clear (EMQX's defaults; a load average, not a CPU sample);
 * - `too_many_connections/<listener>`: a listener at 90% or more of its max_connections, or
 *   one that refused a connection for it since the last sample;
 * - `connector_down/<id>`, `action_down/<id>`: an enabled connector or action disconnected.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { Listeners } from './transport/index.js';
import type { DataIntegration } from './rules/connectors/integration.js';

export interface AlarmView {
  name: string;
  node: string;
  message: string;
  details: Record<string, unknown>;
  activated: boolean;
  activate_at: string;
  deactivate_at: string | 'infinity';
  /** Milliseconds active (until now, or until deactivated). */
  duration: number;
}

/** What the node measured this second. */
export interface AlarmSample {
  /** Host memory in use, 0..1. */
  sysmem: number;
  /** 1-minute load average divided by the CPU count. */
  load: number;
  listeners: ReadonlyArray<{ id: string; current: number; max: number; rejected: number }>;
  resources: ReadonlyArray<{ kind: 'connector' | 'action'; id: string; enable: boolean; status: string; reason: string | null }>;
}

export const ALARM_LIMITS = { sysmemHigh: 0.7, cpuHigh: 0.8, cpuLow: 0.6, connectionsHigh: 0.9 } as const;

interface Entry { name: string; message: string; details: Record<string, unknown>; at: number; until: number | null }

/** The most deactivated alarms kept (oldest dropped first), as EMQX's alarm.size_limit. */
const HISTORY_LIMIT = 1000;

export class Alarms {
  private readonly node: string;
  private readonly active = new Map<string, Entry>();
  private history: Entry[] = [];
  private readonly rejected = new Map<string, number>();

  constructor(node: string) { this.node = node; }

  /** false = already active (the first activation's details stay). */
  activate(name: string, details: Record<string, unknown>, message: string, now = Date.now()): boolean {
    if (this.active.has(name)) return false;
    this.active.set(name, { name, message, details, at: now, until: null });
    return true;
  }

  deactivate(name: string, now = Date.now()): boolean {
    const e = this.active.get(name);
    if (e === undefined) return false;
    this.active.delete(name);
    e.until = now;
    this.history.push(e);
    if (this.history.length > HISTORY_LIMIT) this.history = this.history.slice(-HISTORY_LIMIT);
    return true;
  }

  /** Active alarms (true), deactivated ones (false), or both, newest first. */
  list(activated?: boolean, now = Date.now()): AlarmView[] {
    const rows: Entry[] = [];
    if (activated !== false) rows.push(...this.active.values());
    if (activated !== true) rows.push(...this.history);
    return rows.sort((a, b) => b.at - a.at).map((e) => ({
      name: e.name, node: this.node, message: e.message, details: e.details, activated: e.until === null,
      activate_at: new Date(e.at).toISOString(), deactivate_at: e.until === null ? 'infinity' : new Date(e.until).toISOString(),
      duration: (e.until ?? now) - e.at,
    }));
  }

  /** Forgets the deactivated alarms (DELETE /api/v5/alarms). */
  clearDeactivated(): void { this.history = []; }

  get activeCount(): number { return this.active.size; }

  check(s: AlarmSample, now = Date.now()): void {
    const pct = (x: number): string => `${Math.round(x * 100)}%`;
    this.set('high_system_memory_usage', s.sysmem > ALARM_LIMITS.sysmemHigh, { usage: pct(s.sysmem), high_watermark: pct(ALARM_LIMITS.sysmemHigh) },
      `System memory usage ${pct(s.sysmem)} is over ${pct(ALARM_LIMITS.sysmemHigh)}`, now);
    // Hysteresis: between the watermarks the alarm keeps its state.
    if (s.load > ALARM_LIMITS.cpuHigh) this.set('high_cpu_usage', true, { load_per_cpu: s.load, high_watermark: ALARM_LIMITS.cpuHigh }, `Load per CPU ${s.load.toFixed(2)} is over ${ALARM_LIMITS.cpuHigh}`, now);
    else if (s.load < ALARM_LIMITS.cpuLow) this.deactivate('high_cpu_usage', now);
    const seen = new Set<string>();
    for (const l of s.listeners) {
      const name = `too_many_connections/${l.id}`;
      seen.add(name);
      const refused = l.rejected - (this.rejected.get(l.id) ?? l.rejected);
      this.rejected.set(l.id, l.rejected);
      const high = Number.isFinite(l.max) && l.current >= l.max * ALARM_LIMITS.connectionsHigh;
      this.set(name, high || refused > 0, { listener: l.id, connections: l.current, max_connections: l.max, refused },
        `Listener ${l.id} has ${l.current} of ${l.max} connections` + (refused > 0 ? ` and refused ${refused}` : ''), now);
    }
    for (const r of s.resources) {
      const name = `${r.kind}_down/${r.id}`;
      seen.add(name);
      this.set(name, r.enable && r.status === 'disconnected', { id: r.id, status: r.status, reason: r.reason },
        `${r.kind === 'connector' ? 'Connector' : 'Action'} ${r.id} is down` + (r.reason !== null ? `: ${r.reason}` : ''), now);
    }
    // A listener, connector or action that is gone cannot stay in alarm.
    for (const name of [...this.active.keys()]) {
      if (name.includes('/') && !seen.has(name)) this.deactivate(name, now);
    }
  }

  private set(name: string, on: boolean, details: Record<string, unknown>, message: string, now: number): void {
    if (on) this.activate(name, details, message, now);
    else this.deactivate(name, now);
  }
}

/** The node's 1 s ticker samples every this many ticks. */
export const ALARM_SAMPLE_TICKS = 5;

/** What the node counts already, as one sample. */
export function alarmSample(listeners: Listeners, integration: DataIntegration): AlarmSample {
  const total = totalmem();
  const resources: Array<AlarmSample['resources'][number]> = [];
  for (const kind of ['connector', 'action'] as const) {
    for (const r of integration.list(kind === 'connector' ? 'connectors' : 'actions')) {
      resources.push({ kind, id: r.id, enable: r.enable, status: r.status, reason: r.status_reason });
    }
  }
  return {
    sysmem: total > 0 ? (total - freemem()) / total : 0,
    load: loadavg()[0]! / Math.max(1, cpus().length),
    listeners: listeners.list().map((l) => ({ id: l.id, current: l.currentConnections, max: l.maxConnections, rejected: l.rejected })),
    resources,
  };
}
