/**
 * regex_match / regex_replace / regex_extract. EMQX uses PCRE (Erlang's re); JS RegExp reads
 * the same syntax for everything rules commonly use (classes, \d \w \s, groups, anchors,
 * quantifiers, lookahead). Not carried over: PCRE-only constructs such as possessive
 * quantifiers, \A \Z, inline (?i) — they are a RuleFunctionError, never a silent mismatch.
 * Compiled patterns are cached (bounded), as the same literal pattern comes with every message.
 */
import { ArgError } from './errors.js';
import { def, type Family } from './family.js';
import { text } from './values.js';

const CACHE_MAX = 512;
const cache = new Map<string, RegExp>();

function compile(pattern: string, arg: number): RegExp {
  let re = cache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, 'g');
    } catch (err) {
      throw new ArgError(arg, `argument ${arg} is not a valid regular expression: ${(err as Error).message}`);
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(pattern, re);
  }
  re.lastIndex = 0;
  return re;
}

/**
 * Erlang's re:replace replacement: `&` is the whole match, `\N`, `\gN` and `\g{N}` are group N,
 * `\&` and `\\` are a literal & and \.
 */
function expander(rep: string): (match: string, ...rest: unknown[]) => string {
  if (!/[&\\]/.test(rep)) return () => rep;
  return (match: string, ...rest: unknown[]) => {
    const groupCount = rest.findIndex((x) => typeof x === 'number');
    const group = (n: number): string => (n === 0 ? match : n <= groupCount ? ((rest[n - 1] as string | undefined) ?? '') : '');
    let out = '';
    for (let i = 0; i < rep.length; i++) {
      const c = rep[i]!;
      if (c === '&') out += match;
      else if (c === '\\' && i + 1 < rep.length) {
        const tail = rep.slice(i + 1);
        const m = /^(?:g\{(\d+)\}|g(\d+)|(\d+))/.exec(tail);
        if (m) {
          out += group(Number(m[1] ?? m[2] ?? m[3]));
          i += m[0].length;
        } else {
          out += tail[0];
          i += 1;
        }
      } else out += c;
    }
    return out;
  };
}

export const REGEX: Family = {
  regex_match: def(2, 2, (s: unknown, re: unknown) => compile(text(re, 2), 2).test(text(s, 1))),
  regex_replace: def(3, 3, (s: unknown, re: unknown, rep: unknown) =>
    text(s, 1).replace(compile(text(re, 2), 2), expander(text(rep, 3)))),
  // The groups of the first match only; no match or no groups → [].
  regex_extract: def(2, 2, (s: unknown, re: unknown) => {
    const m = compile(text(re, 2), 2).exec(text(s, 1));
    return m === null ? [] : m.slice(1).map((g) => g ?? '');
  }),
};
