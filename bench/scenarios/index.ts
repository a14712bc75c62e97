/**
 * The scenario registry, in the order the benchmark runs them.
 */
import type { Scenario } from './common.js';
import { fanIn, fanOut, qos1Pairs, qos2Pairs } from './throughput.js';
import { latency } from './latency.js';
import { connections, connTransports } from './connections.js';
import { retained } from './retained.js';
import { persistent } from './persistent.js';
import { access } from './access.js';
import { rules } from './rules.js';
import { gateways } from './gateways.js';
import { handshake } from './handshake.js';
import { apiPoll } from './api-poll.js';
import { storm } from './storm.js';

export const SCENARIOS: Scenario[] = [fanIn, fanOut, qos1Pairs, qos2Pairs, latency, connections, retained, persistent, access, rules, gateways, handshake, connTransports, apiPoll, storm];
/** What a run without --only runs: every scenario but the opt-in ones (access, rules, gateways, handshake, conn-transports, api-poll, storm). */
export const DEFAULT_SCENARIOS: Scenario[] = SCENARIOS.filter((s) => !s.optIn);
