/**
 * EMQX's `${…}` placeholders in action arguments (republish topic, payload, properties): each
 * placeholder is a path into the rule's output (`${payload.temp}`, `${pub_props.'User-Property'}`,
 * `${arr[1]}`), parsed once when the action is created and rendered per output.
 *
 * Rendering follows EMQX: strings as they are, numbers and booleans as text, maps and lists as
 * JSON. A path that finds nothing renders as an empty string. A string met along a path is read
 * as JSON, as the SQL does (`${payload.x}` on a JSON payload).
 */

type Step = string | number;
type Part = { text: string } | { path: Step[] };

export class Template {
  readonly source: string;
  private readonly parts: Part[];
  constructor(source: string) {
    this.source = source;
    this.parts = parseTemplate(source);
  }

  /** The template is one placeholder and nothing else: its value can be used as it is (a map, a Buffer). */
  get single(): Step[] | null {
    const p = this.parts;
    return p.length === 1 && 'path' in p[0]! ? p[0].path : null;
  }

  /** The raw value of a single-placeholder template, else the rendered text. */
  value(data: Record<string, unknown>): unknown {
    const s = this.single;
    return s === null ? this.render(data) : lookup(data, s);
  }

  render(data: Record<string, unknown>): string {
    let out = '';
    for (const p of this.parts) out += 'text' in p ? p.text : toText(lookup(data, p.path));
    return out;
  }
}

export function toText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));
}

export function lookup(data: unknown, path: readonly Step[]): unknown {
  let cur: unknown = data;
  for (const step of path) {
    if (typeof cur === 'string' || Buffer.isBuffer(cur)) {
      try { cur = JSON.parse(cur.toString()); } catch { return undefined; }
    }
    if (cur === null || typeof cur !== 'object') return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = step > 0 ? cur[step - 1] : step < 0 ? cur[cur.length + step] : undefined;
    } else {
      cur = Object.prototype.hasOwnProperty.call(cur, step) ? (cur as Record<string, unknown>)[step] : undefined;
    }
  }
  return cur;
}

function parseTemplate(src: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('${', i);
    if (open < 0) { parts.push({ text: src.slice(i) }); break; }
    if (open > i) parts.push({ text: src.slice(i, open) });
    const close = src.indexOf('}', open + 2);
    if (close < 0) throw new Error(`template '${src}': '\${' at ${open + 1} has no closing '}'`);
    parts.push({ path: parsePath(src.slice(open + 2, close).trim(), src) });
    i = close + 1;
  }
  return parts;
}

/** `a.b`, `a.'x y'`, `a[1]`, `a[-1]`, 1-based as in the SQL. */
function parsePath(p: string, src: string): Step[] {
  if (p === '') throw new Error(`template '${src}': empty placeholder \${}`);
  const steps: Step[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i];
    if (c === '.') { i++; continue; }
    if (c === "'" || c === '"') {
      const end = p.indexOf(c, i + 1);
      if (end < 0) throw new Error(`template '${src}': unterminated quote in \${${p}}`);
      steps.push(p.slice(i + 1, end));
      i = end + 1;
    } else if (c === '[') {
      const end = p.indexOf(']', i);
      const n = Number(p.slice(i + 1, end));
      if (end < 0 || !Number.isInteger(n)) throw new Error(`template '${src}': bad index in \${${p}}`);
      steps.push(n);
      i = end + 1;
    } else {
      let j = i;
      while (j < p.length && p[j] !== '.' && p[j] !== '[') j++;
      steps.push(p.slice(i, j));
      i = j;
    }
  }
  return steps;
}
