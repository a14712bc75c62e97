/**
 * Array functions. Positions are 1-based, as in EMQX (lists:nth, lists:sublist); a position
 * outside the array is an error, not undefined. contains/2 compares with Erlang's ==, so
 * contains([1, 2], [a, b, [1, 2]]) is true and 1 matches 1.0.
 */
import { badArg } from './errors.js';
import { def, type Family } from './family.js';
import { array, deepEqual } from './values.js';

export const ARRAY: Family = {
  nth: def(2, 2, (n: unknown, l: unknown) => {
    const list = array(l, 2);
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > list.length) {
      return badArg(1, `a position in 1..${list.length}`, n);
    }
    return list[(n as number) - 1];
  }),
  length: def(1, 1, (l: unknown) => array(l, 1).length),
  sublist: def(2, 3, (a: unknown, b: unknown, c?: unknown) => {
    if (c === undefined) {
      const list = array(b, 2);
      if (!Number.isInteger(a) || (a as number) < 0) return badArg(1, 'a non-negative integer', a);
      return list.slice(0, a as number);
    }
    const list = array(c, 3);
    if (!Number.isInteger(a) || (a as number) < 1 || (a as number) > list.length + 1) {
      return badArg(1, `a position in 1..${list.length + 1}`, a);
    }
    if (!Number.isInteger(b) || (b as number) < 0) return badArg(2, 'a non-negative integer', b);
    return list.slice((a as number) - 1, (a as number) - 1 + (b as number));
  }),
  first: def(1, 1, (l: unknown) => {
    const list = array(l, 1);
    return list.length > 0 ? list[0] : badArg(1, 'a non-empty array', l);
  }),
  last: def(1, 1, (l: unknown) => {
    const list = array(l, 1);
    return list.length > 0 ? list[list.length - 1] : badArg(1, 'a non-empty array', l);
  }),
  contains: def(2, 2, (item: unknown, l: unknown) => array(l, 2).some((x) => deepEqual(item, x))),
};
