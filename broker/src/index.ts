/**
 * Petrel as a library: embed a broker in another Node program, the way Aedes is used.
 *
 *   import { createNode } from 'petrel';
 *   const node = await createNode({ config: { listeners: { tcp: { default: { bind: '127.0.0.1:1883' } } } } });
 *   node.hooks.add('client.authenticate', ({ client, password }) =>
 *     password?.toString() === 'secret' ? { result: 'allow' } : { result: 'deny' });
 *   node.hooks.add('message.publish', (msg) => console.log(msg.topic, msg.payload.toString()));
 *   node.publish('greetings', 'hello', { qos: 1 });
 *   await node.stop();
 *
 * `config` takes the same keys as the YAML file (docs/config.md), validated the same way: a bad
 * key throws a ConfigError naming it. Everything below this entry point is internal and may
 * move between versions; what is exported here is the supported surface.
 */
import { loadConfig, ConfigError, type Config } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { startNode, type PetrelNode } from './node.js';

export interface CreateNodeOptions {
  /** Config values as in the YAML file; applied over `configFile` and the environment. */
  config?: object;
  /** A YAML config file to read first. */
  configFile?: string;
  /** Read PETREL_* environment overrides (default false: an embedded broker takes its config from the program). */
  env?: boolean;
  /** A pino logger to use (default: one built from config.log, writing JSON lines to stdout). */
  logger?: Logger;
}

/** Validates the config, opens the store, binds the listeners and returns the running node. */
export async function createNode(opts: CreateNodeOptions = {}): Promise<PetrelNode> {
  const cfg = loadConfig({ file: opts.configFile, env: opts.env ? process.env : undefined, overrides: opts.config });
  return startNode(cfg, opts.logger ?? createLogger(cfg.log));
}

export { ConfigError, loadConfig };
export type { Config, Logger, PetrelNode };
export type { Broker } from './broker.js';
export type {
  AuthRequest, AuthResult, AuthzRequest, AuthzResult, ClientInfo, ConnectVerdict, HookName, HookSignatures, Hooks,
} from './hooks.js';
export type { Message, PublishProperties, QoS, Subscription, SubOptions } from './types.js';
export type { AdminApi } from './api/admin.js';
export { VERSION } from './version.js';
