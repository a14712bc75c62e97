/**
 * Topic names, topic filters and how they match (MQTT 3.1.1 §4.7, MQTT 5 §4.7 and §4.8).
 *
 * A topic name is what a PUBLISH carries; a topic filter is what a SUBSCRIBE carries. Both are
 * split into levels by `/`. A filter may use two wildcards:
 *
 * - `+` matches exactly one level, whatever it holds, including an empty one;
 * - `#` matches the level it stands in and every level below it, and also the parent level
 *   itself: `sport/#` matches `sport`.
 *
 * Wildcards must fill a whole level, and `#` must be the last level. A topic whose first
 * character is `$` (`$SYS/…`) is never matched by a filter that starts with a wildcard
 * [MQTT-4.7.2-1]; a filter that names the `$` level explicitly (`$SYS/#`) does match it.
 * Levels may be empty: `a//b` has three levels, the middle one empty, and `/a` starts with an
 * empty level (so `+/a` matches it, `+` does not match `/a`).
 *
 * Valid filters:
 *   `#`  `+`  `+/+`  `/+`  `a/#`  `a/+/c`  `+/b/#`  `a//b`  `$SYS/#`  `/`  `a/b/`
 * Invalid filters (rejected at SUBSCRIBE with reason 0x8F):
 *   ``  `a#`  `a/#/b`  `a/b#`  `+a`  `a/+b`  `##`  `a/++`  `#/a`  (and any NUL character)
 * Invalid topic names (rejected at PUBLISH with reason 0x90): any `+` or `#`, the empty string.
 * Valid, yet NOT matching:
 *   filter `a/+`   topic `a`        (`+` needs one level to be there)
 *   filter `a/+`   topic `a/b/c`    (`+` is one level only)
 *   filter `+`     topic `/a`       (two levels, the first empty)
 *   filter `a/b`   topic `a/b/`     (the trailing empty level counts)
 *   filter `#`     topic `$SYS/x`   (a leading wildcard never matches a `$` topic)
 *   filter `+/x`   topic `$SYS/x`
 *   filter `A/b`   topic `a/b`      (matching is case sensitive, no normalisation)
 * Valid and matching, perhaps surprisingly:
 *   filter `a/#`   topic `a`        filter `+/+`   topic `/`       filter `a/+/b` topic `a//b`
 *   filter `$SYS/#` topic `$SYS`    filter `+`     topic `a` but not `$a`
 *
 * Prefixed filters (MQTT 5 §4.8 and broker conventions shared with EMQX):
 *   `$share/{group}/{filter}`  shared subscription: one member of the group gets each message;
 *                              the group is non-empty and holds no `/`, `+` or `#` [MQTT-4.8.2-2];
 *   `$queue/{filter}`          a shared subscription of the group `$queue`;
 *   `$exclusive/{filter}`      only one client may hold the filter at a time.
 *
 * `topicMatches` is the slow, obviously-correct reference; the SubscriberIndex's trie and the
 * RetainedIndex's tree must agree with it (a property test checks this).
 */

const PLUS = 43; // '+'
const HASH = 35; // '#'
const SLASH = 47; // '/'
const DOLLAR = 36; // '$'

/** True when the string is a legal topic name for PUBLISH with at most maxLevels levels. */
export function validTopicName(topic: string, maxLevels: number): boolean {
  const n = topic.length;
  if (n === 0) return false; // [MQTT-4.7.3-1]
  let levels = 1;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) return false; // [MQTT-3.3.2-2]
    if (c === 0) return false; // [MQTT-4.7.3-2]
    if (c === SLASH && ++levels > maxLevels) return false;
  }
  return true;
}

/** True when the string is a legal topic filter for SUBSCRIBE with at most maxLevels levels. */
export function validTopicFilter(filter: string, maxLevels: number): boolean {
  const n = filter.length;
  if (n === 0) return false; // [MQTT-4.7.3-1]
  let levels = 1;
  let levelStart = 0;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === SLASH) {
      if (++levels > maxLevels) return false;
      levelStart = i + 1;
    } else if (c === PLUS) {
      // [MQTT-4.7.1-3] '+' must occupy an entire level.
      if (i !== levelStart) return false;
      if (i + 1 < n && filter.charCodeAt(i + 1) !== SLASH) return false;
    } else if (c === HASH) {
      // [MQTT-4.7.1-2] '#' must occupy an entire level and be the last character.
      if (i !== levelStart || i !== n - 1) return false;
    } else if (c === 0) {
      return false; // [MQTT-4.7.3-2]
    }
  }
  return true;
}

export type ParsedFilter = {
  /** The filter matched against topics (the prefix removed). */
  topicFilter: string;
  /** Shared group name (`$queue` for `$queue/…`), else null. */
  group: string | null;
  exclusive: boolean;
  kind: 'normal' | 'share' | 'queue' | 'exclusive' | 'invalid';
};

function invalid(raw: string): ParsedFilter {
  return { topicFilter: raw, group: null, exclusive: false, kind: 'invalid' };
}

/**
 * Split a SUBSCRIBE filter into its prefix and topic filter. The wildcard syntax of the topic
 * filter is checked too (without a level limit: apply `validTopicFilter(p.topicFilter, max)`
 * for that), so kind 'invalid' maps to reason 0x8F.
 */
export function parseFilter(raw: string): ParsedFilter {
  if (raw.charCodeAt(0) === DOLLAR) {
    if (raw.startsWith('$share/')) {
      const slash = raw.indexOf('/', 7);
      if (slash < 0) return invalid(raw); // [MQTT-4.8.2-1] a filter must follow the group
      const group = raw.slice(7, slash);
      if (group.length === 0 || group.includes('+') || group.includes('#')) return invalid(raw); // [MQTT-4.8.2-2]
      const topicFilter = raw.slice(slash + 1);
      if (!validTopicFilter(topicFilter, Infinity)) return invalid(raw);
      return { topicFilter, group, exclusive: false, kind: 'share' };
    }
    if (raw.startsWith('$queue/')) {
      const topicFilter = raw.slice(7);
      if (!validTopicFilter(topicFilter, Infinity)) return invalid(raw);
      return { topicFilter, group: '$queue', exclusive: false, kind: 'queue' };
    }
    if (raw.startsWith('$exclusive/')) {
      const topicFilter = raw.slice(11);
      if (!validTopicFilter(topicFilter, Infinity)) return invalid(raw);
      return { topicFilter, group: null, exclusive: true, kind: 'exclusive' };
    }
  }
  if (!validTopicFilter(raw, Infinity)) return invalid(raw);
  return { topicFilter: raw, group: null, exclusive: false, kind: 'normal' };
}

/** True when the topic filter contains a wildcard level. */
export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Reference matcher: splits both strings, so it allocates; use it for tests, ACL checks off the
 * hot path, and one-off comparisons. The SubscriberIndex and RetainedIndex do not call it.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.length === 0 || filter.length === 0) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] a filter starting with a wildcard never matches a topic starting with '$'.
  if (topic.charCodeAt(0) === DOLLAR && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const fl = f[i]!;
    if (fl === '#') return true; // matches this level and below, and the parent (i === t.length)
    if (i >= t.length) return false;
    if (fl !== '+' && fl !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * topicMatches over a filter split once, walking the topic in place: nothing is allocated per
 * topic (a topic trace compares every PUBLISH with its filter).
 */
export function filterMatches(levels: readonly string[], topic: string): boolean {
  const n = topic.length;
  if (n === 0) return false;
  // [MQTT-4.7.2-1] a filter starting with a wildcard never matches a topic starting with '$'.
  if (topic.charCodeAt(0) === DOLLAR && (levels[0] === '+' || levels[0] === '#')) return false;
  let pos = 0;
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i]!;
    if (lv === '#') return true; // this level and below, and the parent
    if (pos > n) return false; // the topic has fewer levels
    let end = topic.indexOf('/', pos);
    if (end < 0) end = n;
    if (lv !== '+' && (lv.length !== end - pos || !topic.startsWith(lv, pos))) return false;
    pos = end + 1;
  }
  return pos > n;
}
