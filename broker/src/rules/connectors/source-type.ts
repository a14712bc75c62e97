/**
 * An ingress source (EMQX 5.8's `sources.<type>.<name>`): messages a connector receives from its
 * target become rule inputs under `$bridges/<type>:<name>`. Only the MQTT connector offers one.
 */
import type { Connection } from './types.js';

export interface SourceType<SP = unknown> {
  readonly type: string;
  /** Validates `parameters`; throws SinkConfigError naming the key. */
  parseSourceParameters(raw: unknown, where: string): SP;
  /**
   * Starts receiving on `conn` (a connection of this type's connector); each message's columns go
   * to `deliver`. Resolves to a function that stops it.
   */
  subscribe(conn: Connection, params: SP, deliver: (columns: Record<string, unknown>) => void): Promise<() => Promise<void>>;
}
