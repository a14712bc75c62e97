/**
 * The seam between the rule engine's data integration (EMQX's connector + action model) and the
 * targets it writes to. One file per target type in this folder implements `ConnectorType`; the
 * generic machinery (buffer in memory spilling to disk, batching, in-flight window, retries with
 * backoff, health checks, status, metrics, REST and config) lives beside it and never knows which
 * target it drives.
 *
 * - A connector (`connectors.<type>.<name>`) holds the connection: `connect()` opens it once and
 *   returns a `Connection`.
 * - An action (`actions.<type>.<name>`, `connector: <name>`) holds the templates: `prepare()`
 *   parses them once; `render()` turns one rule output into an `Item` when the rule fires (so a
 *   template error is the rule's failure, counted, never retried); the buffer keeps Items, so an
 *   Item must survive `v8.serialize` (plain data, strings, numbers, Buffers, arrays, objects).
 * - `send()` delivers a batch of Items all-or-nothing: it resolves when the target accepted every
 *   one; it rejects with a `SinkError` whose `retryable` says whether the batch is tried again
 *   (target down, timeout) or counted failed (the target refused the data itself: a constraint, a
 *   bad column type).
 */
export interface ConnectorType<C = unknown, P = unknown, Item = unknown> {
  /** EMQX's type name: 'http', 'mqtt', 'pgsql', 'mysql', 'redis', 'kafka_producer', 'rabbitmq'. */
  readonly type: string;
  /** Validates and defaults a connector's config; throws `SinkConfigError` naming the key. */
  parseConnector(raw: unknown, where: string): C;
  /** Validates and defaults an action's `parameters`; throws `SinkConfigError` naming the key. */
  parseParameters(raw: unknown, where: string): P;
  /** Opens the connection (or pool). Rejects when the target cannot be reached now. */
  connect(conf: C, ctx: ConnectorContext): Promise<Connection<P, Item>>;
}

export interface ConnectorContext {
  /** `<type>:<name>`, for log lines and errors. */
  id: string;
  log: import('../../log.js').Logger;
  /** The node's data directory (for anything the connector must keep, e.g. a client id). */
  dataDir: string;
  /** The node's name. */
  node: string;
}

export interface Connection<P = unknown, Item = unknown> {
  /** Parses an action's templates once; the result is what render() and send() get. */
  prepare(params: P): PreparedAction<Item>;
  /** Resolves when the target answers now; rejects with the reason otherwise. */
  health(): Promise<void>;
  /** Closes the connection; pending sends may reject. */
  close(): Promise<void>;
}

export interface PreparedAction<Item = unknown> {
  /** One rule output (the SELECT's columns) → the Item to buffer. Throws on a template error. */
  render(output: Record<string, unknown>): Item;
  /** Sends Items all-or-nothing (see the file comment). */
  send(items: Item[]): Promise<void>;
}

export class SinkError extends Error {
  constructor(message: string, readonly retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SinkError';
  }
}

export class SinkConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'SinkConfigError'; }
}
