/**
 * Public API of the router area: topic validation and matching, the local SubscriberIndex and the RouteTable, with
 * shared groups and exclusive filters, and the RetainedIndex. Pure code: no sockets, no I/O.
 * See docs/router.md.
 */
export { validTopicName, validTopicFilter, parseFilter, topicMatches, hasWildcard } from './topic.js';
export type { ParsedFilter } from './topic.js';
export { SubscriberIndex } from './subscriber-index.js';
export type { SubscriberIndexOptions, SubscriberIndexStats } from './subscriber-index.js';
export { RouteTable } from './route-table.js';
export { SHARED_STRATEGIES } from './shared-group.js';
export type { SharedStrategy } from './shared-group.js';
export { RetainedIndex } from './retained-index.js';
export type { RetainedIndexOptions } from './retained-index.js';
