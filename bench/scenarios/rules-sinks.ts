/**
 * The rules scenario's data-integration setups: the rule `SELECT payload.x as x, clientid,
 * timestamp FROM "t/#"` with one action that inserts into a real PostgreSQL table (`pgsql-sink`)
 * or produces to a real Kafka topic (`kafka-sink`), both started once per benchmark run from the
 * test support (test/support/services.ts, test/support/kafka.ts) and shared by every repetition.
 *
 * Why paced, not flooded: a flood offers the broker 400,000+ msg/s, which no database here
 * absorbs; the action's buffer would then grow for the whole window and the figure would be the
 * database's, reported as the broker's backlog. So the sink setups, and a `plain-paced` broker
 * without rules that they are compared with, run at one total rate (`--sink-rate`, 20,000 msg/s
 * by default) a sink can sustain on 2 cores. Whether it did is reported, not assumed: the
 * action's own `success` per second over the measured window (GET /api/v5/actions/{id}/metrics
 * at the window's start and end), the backlog at the window's end, and after a drain what never
 * got written; the rows in the table (records in the topic) are counted too and any difference
 * to `success` is a note.
 *
 * The backlog is published − settled (success + failed + dropped), not the action's `queuing`:
 * a sink that falls behind backs up first in the rule engine's own hand-off queue (up to 100,000
 * rule outputs, past which it drops them uncounted by the action), while the action's buffer
 * holds at most what one engine turn hands over. For the same reason "dropped" is the action's
 * `dropped` plus every published message the action never saw (`matched`).
 *
 * The actions keep EMQX 5's defaults (inflight_window 100, request_ttl 45s, pool_size 8,
 * required_acks all_isr) except `batch_size: 100`, what an EMQX user would set for a database
 * taking thousands of rows a second; `batch_time` is EMQX's 0ms unless `--sink-batch-time`
 * says otherwise (with 0ms a batch is whatever queued while earlier requests were under way).
 */
import pg from 'pg';
import { Admin } from '@platformatic/kafka';
import { startPostgres, type TestService } from '../../test/support/services.js';
import { kafkaJars, startKafka, type TestKafka } from '../../test/support/kafka.js';

export const SINK_SQL = 'SELECT payload.x as x, clientid, timestamp FROM "t/#"';
export const PG_TABLE = 'bench_msg';
export const PG_INSERT = `INSERT INTO ${PG_TABLE}(x, clientid, ts) VALUES(\${x}, \${clientid}, \${timestamp})`;
export const KAFKA_TOPIC = 'petrel-bench';
export const SINK_BATCH_SIZE = 100;

/** Where a sink's backing service listens (the setups are built from this alone). */
export interface PgEndpoint { server: string; database: string; username: string; password: string }
export interface KafkaEndpoint { bootstrap: string }

export type SinkKind = 'pgsql' | 'kafka_producer';

/** What the scenario needs to measure one sink setup. */
export interface SinkProbe {
  /** The action id as the REST API names it (`type:name`). */
  action: string;
  /** Marks where this run's writes start (the table's last id, the topic's end offset). */
  begin(): Promise<void>;
  /**
   * What arrived since begin(): rows / records (the cross-check of `success`) and, where the
   * target shows it, the mean rows per request (PostgreSQL: rows per inserting transaction).
   */
  end(): Promise<{ written: number; perRequest: number | null }>;
}

/** The broker config of a sink setup: connector, action and the rule. */
export function sinkConfig(kind: 'pgsql', ep: PgEndpoint, batchTime: string): Record<string, unknown>;
export function sinkConfig(kind: 'kafka_producer', ep: KafkaEndpoint, batchTime: string): Record<string, unknown>;
export function sinkConfig(kind: SinkKind, ep: PgEndpoint | KafkaEndpoint, batchTime: string): Record<string, unknown> {
  const resource_opts = { batch_size: SINK_BATCH_SIZE, batch_time: batchTime };
  const connector = kind === 'pgsql' ? { ...(ep as PgEndpoint) } : { bootstrap_hosts: (ep as KafkaEndpoint).bootstrap };
  const parameters = kind === 'pgsql'
    ? { sql: PG_INSERT }
    : { topic: KAFKA_TOPIC, message: { key: '${clientid}', value: '${.}' } };
  return {
    connectors: { [kind]: { bench: connector } },
    actions: { [kind]: { bench: { connector: 'bench', parameters, resource_opts } } },
    rule_engine: { rules: { bench_sink: { sql: SINK_SQL, actions: [`${kind}:bench`] } } },
  };
}

/** The action counters the scenario reads (EMQX 5's names), and the messages published by then. */
export interface ActionSample {
  /** performance.now() when the answer arrived. */
  at: number;
  /** Messages the publishers had sent when the sample was taken (every one is a rule output). */
  published: number;
  matched: number;
  success: number;
  failed: number;
  dropped: number;
  queuing: number;
  inflight: number;
}

const settled = (s: ActionSample) => s.success + s.failed + s.dropped;

/**
 * The sink columns of one run from the samples at the window's start and end and the counters
 * after the drain: the sustained rate (success per second over the window), whether it kept up
 * (the backlog at the window's end), and what never reached the target.
 */
export function sinkFigures(start: ActionSample, end: ActionSample, final: ActionSample, rows: number | null, perRequest: number | null = null): { values: Record<string, number>; notes: string[] } {
  const dt = (end.at - start.at) / 1000;
  const unseen = Math.max(0, final.published - final.matched);
  const values: Record<string, number> = {
    sinkRate: dt > 0 ? (end.success - start.success) / dt : NaN,
    sinkBacklog: Math.max(0, end.published - settled(end)),
    sinkDropped: final.dropped + unseen,
  };
  if (perRequest !== null) values.sinkBatch = perRequest;
  const notes: string[] = [];
  if (final.failed > 0) notes.push(`the sink failed ${final.failed} of ${final.matched} writes`);
  if (final.dropped > 0) notes.push(`the sink dropped ${final.dropped} of ${final.matched}`);
  if (unseen > 0) notes.push(`${unseen} of ${final.published} published messages never reached the action (the rule engine's queue was full)`);
  const pending = final.matched - final.success - final.failed - final.dropped;
  if (pending > 0) notes.push(`${pending} sink writes still pending after the drain (queuing ${final.queuing}, inflight ${final.inflight})`);
  if (rows !== null && rows !== final.success) notes.push(`the target holds ${rows} new rows/records but the action counted ${final.success} successes`);
  return { values, notes };
}

/** GET /api/v5/actions/{id}/metrics of the broker on 127.0.0.1:apiPort; `published` as given. */
export async function readAction(apiPort: number, action: string, published: number): Promise<ActionSample> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/actions/${encodeURIComponent(action)}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET action ${action} metrics: HTTP ${res.status} ${await res.text()}`);
  const m = ((await res.json()) as { metrics: Record<string, number> }).metrics;
  return { at: performance.now(), published, matched: m.matched, success: m.success, failed: m.failed, dropped: m.dropped, queuing: m.queuing, inflight: m.inflight };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wait until the action reports `connected` (a fresh broker connects its pool after start). */
export async function waitConnected(apiPort: number, action: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/actions/${encodeURIComponent(action)}`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { status?: string; status_reason?: string };
      if (body.status === 'connected') return;
      last = `${body.status}${body.status_reason ? ` (${body.status_reason})` : ''}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`action ${action} not connected after ${timeoutMs} ms: ${last}`);
}

/**
 * After the publishers stopped (`published` messages in all): wait until the action has seen
 * them all, or has seen none more for 2 s (the engine dropped the rest), and has settled what it
 * saw; bounded by `timeoutMs`. Returns the last counters.
 */
export async function drainAction(apiPort: number, action: string, published: number, timeoutMs: number): Promise<ActionSample> {
  const deadline = performance.now() + timeoutMs;
  let s = await readAction(apiPort, action, published);
  let lastMatched = s.matched;
  let lastChange = performance.now();
  const busy = () => s.queuing > 0 || s.inflight > 0 || s.matched > settled(s) || (s.matched < published && performance.now() - lastChange < 2000);
  while (busy() && performance.now() < deadline) {
    await sleep(100);
    s = await readAction(apiPort, action, published);
    if (s.matched !== lastMatched) { lastMatched = s.matched; lastChange = performance.now(); }
  }
  return s;
}

/** The backing services of one benchmark run, and the probes the sink setups are measured with. */
export interface SinkServices {
  pg: { endpoint: PgEndpoint; probe: SinkProbe } | null;
  kafka: { endpoint: KafkaEndpoint; probe: SinkProbe } | null;
  /** Why a sink is left out (printed, and kept for the report). */
  skipped: string[];
  stop(): Promise<void>;
}

async function pgSink(): Promise<{ svc: TestService; client: pg.Client; endpoint: PgEndpoint; probe: SinkProbe }> {
  const svc = await startPostgres();
  const client = new pg.Client({ host: '127.0.0.1', port: svc.port, user: svc.username, password: svc.password, database: svc.database });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(`CREATE TABLE ${PG_TABLE} (id bigserial PRIMARY KEY, x integer, clientid text, ts bigint)`);
  } catch (e) {
    await client.end().catch(() => {});
    await svc.stop();
    throw e;
  }
  const endpoint = { server: `127.0.0.1:${svc.port}`, database: svc.database, username: svc.username, password: svc.password };
  let since = 0;
  const probe: SinkProbe = {
    action: 'pgsql:bench',
    begin: async () => { since = Number((await client.query(`SELECT coalesce(max(id), 0) AS m FROM ${PG_TABLE}`)).rows[0].m); },
    end: async () => {
      // Each multi-row INSERT commits alone, so its rows share one xmin (inserting transaction).
      const r = (await client.query(`SELECT count(*) AS n, count(DISTINCT xmin::text) AS tx FROM ${PG_TABLE} WHERE id > $1`, [since])).rows[0];
      const n = Number(r.n);
      return { written: n, perRequest: Number(r.tx) > 0 ? n / Number(r.tx) : null };
    },
  };
  return { svc, client, endpoint, probe };
}

async function kafkaSink(): Promise<{ kafka: TestKafka; admin: Admin; endpoint: KafkaEndpoint; probe: SinkProbe }> {
  const kafka = await startKafka();
  const admin = new Admin({ clientId: 'petrel-bench-admin', bootstrapBrokers: [kafka.bootstrap] });
  try {
    await admin.createTopics({ topics: [KAFKA_TOPIC], partitions: 1, replicas: 1 });
  } catch (e) {
    await admin.close().catch(() => {});
    await kafka.stop();
    throw e;
  }
  // The latest offset (timestamp -1) of the topic's one partition = records written so far.
  const offset = async () => {
    const t = await admin.listOffsets({ topics: [{ name: KAFKA_TOPIC, partitions: [{ partitionIndex: 0, timestamp: -1n }] }] });
    return Number(t[0]?.partitions[0]?.offset ?? -1n);
  };
  let since = 0;
  const probe: SinkProbe = {
    action: 'kafka_producer:bench',
    begin: async () => { since = await offset(); },
    end: async () => ({ written: (await offset()) - since, perRequest: null }),
  };
  return { kafka, admin, endpoint: { bootstrap: kafka.bootstrap }, probe };
}

/**
 * PostgreSQL (always; its absence is an error like any other missing dependency) and Kafka
 * (left out, saying why, when its jars cannot be had: no Maven Central and no cache).
 */
export async function startSinkServices(log: (s: string) => void): Promise<SinkServices> {
  const skipped: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => { for (const s of stops.reverse()) await s().catch(() => {}); };
  try {
    const p = await pgSink();
    stops.push(async () => { await p.client.end().catch(() => {}); await p.svc.stop(); });
    let k: Awaited<ReturnType<typeof kafkaSink>> | null = null;
    const jars = kafkaJars();
    if ('skip' in jars) {
      skipped.push(`kafka-sink left out: ${jars.skip}`);
      log(`rules: ${skipped[skipped.length - 1]}`);
    } else {
      k = await kafkaSink();
      const kk = k;
      stops.push(async () => { await kk.admin.close().catch(() => {}); await kk.kafka.stop(); });
    }
    return {
      pg: { endpoint: p.endpoint, probe: p.probe },
      kafka: k ? { endpoint: k.endpoint, probe: k.probe } : null,
      skipped,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
