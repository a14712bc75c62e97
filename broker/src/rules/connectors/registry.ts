/**
 * The connector types Petrel knows, by EMQX type name. Adding a target is one line here plus its
 * file implementing ConnectorType (types.ts).
 */
import type { ConnectorType } from './types.js';
import type { SourceType } from './source-type.js';
import { httpConnector } from './http.js';
import { mqttConnector, mqttSource } from './mqtt.js';
import { pgsqlConnector } from './pgsql.js';
import { mysqlConnector } from './mysql.js';
import { redisConnector } from './redis.js';
import { kafkaProducer } from './kafka.js';
import { rabbitmq } from './rabbitmq.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const TYPES: ReadonlyArray<ConnectorType<any, any, any>> = [
  httpConnector,
  mqttConnector,
  pgsqlConnector,
  mysqlConnector,
  redisConnector,
  kafkaProducer,
  rabbitmq,
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const SOURCES: ReadonlyArray<SourceType<any>> = [mqttSource];

const byType = new Map(TYPES.map((t) => [t.type, t]));
const sourceByType = new Map(SOURCES.map((t) => [t.type, t]));

export function connectorType(type: string): ConnectorType | undefined { return byType.get(type); }
export function sourceType(type: string): SourceType | undefined { return sourceByType.get(type); }
export function connectorTypeNames(): string[] { return [...byType.keys()]; }
export function sourceTypeNames(): string[] { return [...sourceByType.keys()]; }
