/**
 * Forms for the API's config objects (connectors, actions, authenticators): a list of field
 * specs, each a dotted key into the object (`parameters.path`, `password_hash_algorithm.name`)
 * with a label and an input kind, rendered as labelled inputs; what the specs do not name goes
 * in one JSON text area ("Other settings"), so a rarely used key is still reachable and an
 * existing config round-trips through the form unchanged.
 *
 * An empty input leaves its key out, so the node's defaults apply; the node checks the result
 * and its error message (naming the key) is what the page shows.
 */
import type { JSX, RefObject } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { Field, inputValue } from './ui.js';

export interface Spec {
  key: string;
  label: string;
  /** text (default), password, number, select, bool, textarea, json (an object or array), words (a list split at spaces). */
  kind?: 'text' | 'password' | 'number' | 'select' | 'bool' | 'textarea' | 'json' | 'words';
  /** select: the choices; '' in the list means "the node's default". */
  options?: string[];
  required?: boolean;
  placeholder?: string;
  /** Shown only when this holds of the form's values (a hash algorithm's own settings). */
  when?: (v: Values) => boolean;
}

export type Values = Record<string, string | boolean>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function getPath(o: Record<string, unknown>, key: string): unknown {
  let v: unknown = o;
  for (const k of key.split('.')) v = isObj(v) ? v[k] : undefined;
  return v;
}

function setPath(o: Record<string, unknown>, key: string, value: unknown): void {
  const ks = key.split('.');
  let at = o;
  for (const k of ks.slice(0, -1)) { if (!isObj(at[k])) at[k] = {}; at = at[k] as Record<string, unknown>; }
  at[ks[ks.length - 1]!] = value;
}

function deletePath(o: Record<string, unknown>, key: string): void {
  const ks = key.split('.');
  const parents: Array<[Record<string, unknown>, string]> = [];
  let at: unknown = o;
  for (const k of ks.slice(0, -1)) { if (!isObj(at)) return; parents.push([at, k]); at = at[k]; }
  if (!isObj(at)) return;
  delete at[ks[ks.length - 1]!];
  // Drop the objects this left empty.
  for (const [p, k] of parents.reverse()) { if (isObj(p[k]) && Object.keys(p[k] as object).length === 0) delete p[k]; else break; }
}

/** A deep merge of plain objects; `b` wins. */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

const shown = (s: Spec, v: Values): boolean => s.when === undefined || s.when(v);

/** A new form's values: a select without a "(default)" choice starts at its first option, as it shows. */
export function defaults(specs: Spec[]): Values {
  const v: Values = {};
  for (const s of specs) if (s.kind === 'select' && !s.options!.includes('')) v[s.key] = s.options![0]!;
  return v;
}

/** The form's starting values from an existing config, and what no spec names as JSON text. */
export function valuesOf(specs: Spec[], raw: Record<string, unknown>, skip: string[]): { values: Values; rest: string } {
  const values: Values = {};
  const rest = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  for (const k of skip) delete rest[k];
  for (const s of specs) {
    const v = getPath(raw, s.key);
    if (v === undefined) continue;
    if (s.kind === 'bool' && typeof v !== 'boolean') continue;
    values[s.key] = s.kind === 'bool' ? v as boolean
      : s.kind === 'json' ? JSON.stringify(v, null, 2)
        : s.kind === 'words' && Array.isArray(v) ? v.join(' ')
          : typeof v === 'object' ? JSON.stringify(v) : String(v);
    deletePath(rest, s.key);
  }
  return { values, rest: Object.keys(rest).length === 0 ? '' : JSON.stringify(rest, null, 2) };
}

/** The config the form describes: the shown, non-empty fields over the "other settings" JSON. Throws on bad JSON. */
export function bodyOf(specs: Spec[], values: Values, rest: string): Record<string, unknown> {
  let base: Record<string, unknown> = {};
  if (rest.trim() !== '') {
    const parsed = JSON.parse(rest) as unknown;
    if (!isObj(parsed)) throw new Error('Other settings: expected a JSON object');
    base = parsed;
  }
  const fields: Record<string, unknown> = {};
  for (const s of specs) {
    const v = values[s.key];
    if (!shown(s, values) || v === undefined || v === '') continue;
    if (s.kind === 'bool') { setPath(fields, s.key, v === true); continue; }
    const t = String(v);
    if (s.kind === 'number') {
      const n = Number(t);
      if (t.trim() === '' || !Number.isFinite(n)) throw new Error(`${s.label}: expected a number`);
      setPath(fields, s.key, n);
    } else if (s.kind === 'json') {
      try { setPath(fields, s.key, JSON.parse(t)); } catch { throw new Error(`${s.label}: not valid JSON`); }
    } else if (s.kind === 'words') {
      setPath(fields, s.key, t.trim().split(/\s+/));
    } else {
      setPath(fields, s.key, t);
    }
  }
  return merge(base, fields);
}

/** The labelled inputs of `specs`; `set(key, value)` on every change. */
export function SpecFields({ specs, values, set }: { specs: Spec[]; values: Values; set: (key: string, v: string | boolean) => void }): JSX.Element {
  return (
    <div class="row">
      {specs.filter((s) => shown(s, values)).map((s) => {
        const v = values[s.key];
        const text = typeof v === 'string' ? v : '';
        const on = (e: Event): void => set(s.key, inputValue(e));
        if (s.kind === 'bool') {
          return <label class="check" key={s.key}><input type="checkbox" checked={v === true} onChange={(e) => set(s.key, (e.currentTarget as HTMLInputElement).checked)} /> {s.label}</label>;
        }
        let control: JSX.Element;
        if (s.kind === 'select') {
          control = <select required={s.required} value={text} onChange={on}>{s.options!.map((o) => <option key={o} value={o}>{o === '' ? '(default)' : o}</option>)}</select>;
        } else if (s.kind === 'textarea' || s.kind === 'json') {
          control = <textarea class="code" rows={s.kind === 'json' ? 3 : 4} spellcheck={false} required={s.required} placeholder={s.placeholder} value={text} onInput={on} />;
        } else {
          control = <input type={s.kind === 'password' ? 'password' : s.kind === 'number' ? 'number' : 'text'} autoComplete={s.kind === 'password' ? 'new-password' : 'off'}
            required={s.required} placeholder={s.placeholder} value={text} onInput={on} />;
        }
        return <Field key={s.key} label={s.label}>{control}</Field>;
      })}
    </div>
  );
}

/**
 * A form that has just opened takes the focus into its first field, so a keyboard user is in it —
 * before the browser paints it (a layout effect): Preact runs a plain effect a frame later, by
 * which time the user may be typing in another field, and the focus moved under them (test 60 saw
 * a pool size typed into the URL field).
 */
export function useFocusFirst(): RefObject<HTMLFormElement> {
  const ref = useRef<HTMLFormElement>(null);
  useLayoutEffect(() => { ref.current?.querySelector<HTMLElement>('input:not([readonly]), select, textarea')?.focus(); }, []);
  return ref;
}

/** The JSON text area for the keys no field names. */
export function OtherSettings({ value, set, label = 'Other settings (JSON object, merged under the fields above)' }: { value: string; set: (v: string) => void; label?: string }): JSX.Element {
  return <Field label={label}><textarea class="code" rows={3} spellcheck={false} placeholder="{}" value={value} onInput={(e) => set(inputValue(e))} /></Field>;
}
