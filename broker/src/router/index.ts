/**
 * Public API of the router area: topic validation and matching, the subscription Router with
 * shared groups and exclusive filters, and the RetainedIndex. Pure code: no sockets, no I/O.
 * See docs/router.md.
 */
export { validTopicName, validTopicFilter, parseFilter, topicMatches, hasWildcard } from './topic.js';
export type { ParsedFilter } from './topic.js';
export { Router } from './router.js';
export type { RouterOptions, RouterStats } from './router.js';
export { SHARED_STRATEGIES } from './shared-group.js';
export type { SharedStrategy } from './shared-group.js';
export { RetainedIndex } from './retained-index.js';
export type { RetainedIndexOptions } from './retained-index.js';
