/**
 * `resource_opts` with EMQX 5's names and defaults: on an action, how its buffer worker batches,
 * buffers and retries; on a connector, how often its connection is checked. Keys EMQX has but
 * Petrel does not need (`worker_pool_size`, `query_mode`, `start_timeout`…) are accepted and
 * ignored so an EMQX config loads unchanged; docs/data-integration.md lists them.
 */
import { duration, int, size } from '../../config/schema-types.js';
import { readFields, type FieldSpec } from './fields.js';

export interface ActionResourceOpts {
  batch_size: number;
  batch_time: number;
  inflight_window: number;
  /** ms; Infinity = never expire. */
  request_ttl: number;
  max_buffer_bytes: number;
  health_check_interval: number;
}

export interface ConnectorResourceOpts {
  health_check_interval: number;
  start_timeout: number;
}

const IGNORED: FieldSpec = {
  worker_pool_size: 'any', query_mode: 'any', start_after_created: 'any', auto_restart_interval: 'any',
  buffer_mode: 'any', buffer_seg_bytes: 'any', metrics_flush_interval: 'any', resume_interval: 'any',
};

const ACTION: FieldSpec = {
  batch_size: int(1, 'Most items sent in one request.', { min: 1, max: 10_000 }),
  batch_time: duration('0ms', 'How long a batch waits to fill up.', { max: 60_000 }),
  inflight_window: int(100, 'Most requests outstanding at once.', { min: 1, max: 10_000 }),
  request_ttl: duration('45s', 'An item not delivered this long after it was queued is dropped (dropped.expired).', { infinity: true, min: 1 }),
  max_buffer_bytes: size('256MB', 'Most bytes buffered; past it the oldest items are dropped (dropped.queue_full).', { min: 1 }),
  health_check_interval: duration('15s', 'How often the action\'s connector is checked.', { min: 100 }),
  ...IGNORED,
};

const CONNECTOR: FieldSpec = {
  health_check_interval: duration('15s', 'How often the connection is checked.', { min: 100 }),
  start_timeout: duration('5s', 'How long a start waits for the first connection.', { min: 1 }),
  ...IGNORED,
};

export function parseActionResourceOpts(raw: unknown, where: string): ActionResourceOpts {
  const r = readFields<ActionResourceOpts & Record<string, unknown>>(raw, where, ACTION);
  return { batch_size: r.batch_size, batch_time: r.batch_time, inflight_window: r.inflight_window, request_ttl: r.request_ttl, max_buffer_bytes: r.max_buffer_bytes, health_check_interval: r.health_check_interval };
}

export function parseConnectorResourceOpts(raw: unknown, where: string): ConnectorResourceOpts {
  const r = readFields<ConnectorResourceOpts & Record<string, unknown>>(raw, where, CONNECTOR);
  return { health_check_interval: r.health_check_interval, start_timeout: r.start_timeout };
}
