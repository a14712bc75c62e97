/**
 * Connectors and actions (data integration) with their status. Administrators create, edit,
 * delete, enable and disable them, try a connector's settings before saving (connectors_probe),
 * and attach an action to a rule. The forms' fields per type: integration-specs.ts.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, enc, get } from '../api.js';
import { bodyOf, defaults, OtherSettings, SpecFields, useFocusFirst, valuesOf, type Values } from '../spec-form.js';
import { Admin, ErrorLine, Field, inputValue, Section, Status, Table, useAction, useApi, type Loaded } from '../ui.js';
import { ACTION_FIELDS, CONNECTOR_FIELDS, CONNECTOR_TYPES, NOT_SETTINGS } from './integration-specs.js';

interface Resource { type: string; name: string; enable: boolean; status: string; status_reason?: string | null; connector?: string; [k: string]: unknown }
type Kind = 'connectors' | 'actions';

export function IntegrationPage(): JSX.Element {
  const connectors = useApi<Resource[]>('/api/v5/connectors', 5000);
  const actions = useApi<Resource[]>('/api/v5/actions', 5000);
  return (
    <>
      <Resources kind="connectors" list={connectors} connectors={connectors.data} />
      <Resources kind="actions" list={actions} connectors={connectors.data} />
      <Admin><AttachToRule actions={actions.data} /></Admin>
    </>
  );
}

const one = (kind: Kind): string => (kind === 'connectors' ? 'connector' : 'action');
const idOf = (r: { type: string; name: string }): string => `${r.type}:${r.name}`;

function Resources({ kind, list, connectors }: { kind: Kind; list: Loaded<Resource[]>; connectors: Resource[] | undefined }): JSX.Element {
  const [error, run] = useAction();
  // The form: closed (null), a new one ('new'), or editing a resource.
  const [form, setForm] = useState<Resource | 'new' | null>(null);
  const what = one(kind);
  const title = kind === 'connectors' ? 'Connectors' : 'Actions';
  const toggle = (r: Resource): void => {
    void run(() => call('POST', `/api/v5/${kind}/${enc(idOf(r))}/enable/${!r.enable}`)).then(list.reload);
  };
  const remove = (r: Resource): void => {
    void run(() => call('DELETE', `/api/v5/${kind}/${enc(idOf(r))}`)).then((ok) => { if (ok && form !== 'new' && form !== null && idOf(form) === idOf(r)) setForm(null); list.reload(); });
  };
  return (
    <Section title={title}>
      <ErrorLine error={list.error ?? error} />
      <Table caption={title} rows={list.data} rowKey={idOf} empty={`No ${kind} configured.`} cols={[
        { label: 'Type', cell: (r) => r.type },
        { label: 'Name', cell: (r) => r.name },
        ...(kind === 'actions' ? [{ label: 'Connector', cell: (r: Resource) => r.connector ?? '–' }] : []),
        { label: 'Status', cell: (r) => <Status value={r.enable ? r.status : 'disabled'} /> },
        { label: 'Reason', cell: (r) => r.status_reason ?? '' },
        { label: 'Actions', cell: (r) => (
          <Admin>
            <button type="button" aria-label={`Edit ${what} ${idOf(r)}`} onClick={() => setForm(r)}>Edit</button>
            <button type="button" aria-label={`${r.enable ? 'Disable' : 'Enable'} ${what} ${idOf(r)}`} onClick={() => toggle(r)}>{r.enable ? 'Disable' : 'Enable'}</button>
            <button type="button" class="danger" aria-label={`Delete ${what} ${idOf(r)}`} onClick={() => remove(r)}>Delete</button>
          </Admin>
        ) },
      ]} />
      <Admin>
        {form === null ? <button type="button" onClick={() => setForm('new')}>New {what}</button>
          : <ResourceForm key={form === 'new' ? 'new' : idOf(form)} kind={kind} editing={form === 'new' ? null : form} connectors={connectors ?? []}
            onDone={() => { setForm(null); list.reload(); }} />}
      </Admin>
    </Section>
  );
}

/** Create (editing null) or edit one connector or action. */
function ResourceForm({ kind, editing, connectors, onDone }: { kind: Kind; editing: Resource | null; connectors: Resource[]; onDone: () => void }): JSX.Element {
  const what = one(kind);
  const Cap = what[0]!.toUpperCase() + what.slice(1);
  const specsOf = (t: string) => (kind === 'connectors' ? CONNECTOR_FIELDS : ACTION_FIELDS)[t] ?? [];
  const start = editing === null ? { values: defaults(specsOf('http')), rest: '' } : valuesOf(specsOf(editing.type), editing, NOT_SETTINGS);
  const [type, setType] = useState<string>(editing?.type ?? 'http');
  const [name, setName] = useState(editing?.name ?? '');
  const [connector, setConnector] = useState(editing?.connector ?? '');
  const [values, setValues] = useState<Values>(start.values);
  const [rest, setRest] = useState(start.rest);
  const [probe, setProbe] = useState<string | null>(null);
  const [error, run] = useAction();
  const ref = useFocusFirst();
  const specs = specsOf(type);
  const usable = connectors.filter((c) => c.type === type);
  const chosen = connector !== '' ? connector : usable[0]?.name ?? '';
  const settings = (): Record<string, unknown> => ({ ...bodyOf(specs, values, rest), ...(kind === 'actions' ? { connector: chosen } : {}) });
  const save = (e: Event): void => {
    e.preventDefault();
    setProbe(null);
    void run(() => (editing === null
      ? call('POST', `/api/v5/${kind}`, { type, name, ...settings() })
      : call('PUT', `/api/v5/${kind}/${enc(idOf(editing))}`, { ...settings(), enable: editing.enable }))).then((ok) => { if (ok) onDone(); });
  };
  const test = (): void => {
    setProbe(null);
    void run(() => call('POST', '/api/v5/connectors_probe', { type, name: name || 'probe', ...settings() })).then((ok) => { if (ok) setProbe('The target answers: these settings work.'); });
  };
  return (
    <form class="form" ref={ref} onSubmit={save} aria-label={editing === null ? `New ${what}` : `Edit ${what} ${idOf(editing)}`}>
      <h3>{editing === null ? `New ${what}` : `Edit ${what} ${idOf(editing)}`}</h3>
      {editing === null && (
        <div class="row">
          <Field label={`${Cap} type`}>
            <select value={type} onChange={(e) => { const t = inputValue(e); setType(t); setValues(defaults(specsOf(t))); setConnector(''); }}>{CONNECTOR_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}</select>
          </Field>
          <Field label={`${Cap} name`}><input required pattern="[A-Za-z0-9][A-Za-z0-9_\-]*" value={name} onInput={(e) => setName(inputValue(e))} /></Field>
        </div>
      )}
      {kind === 'actions' && (
        <Field label="Connector">
          <select required value={chosen} onChange={(e) => setConnector(inputValue(e))}>
            {usable.length === 0 && <option value="">(no {type} connector: create one first)</option>}
            {usable.map((c) => <option key={c.name} value={c.name}>{c.name}</option>)}
          </select>
        </Field>
      )}
      <SpecFields specs={specs} values={values} set={(k, v) => setValues({ ...values, [k]: v })} />
      <OtherSettings value={rest} set={setRest} />
      <div class="row">
        <button type="submit">{editing === null ? `Create ${what}` : `Save ${what}`}</button>
        {kind === 'connectors' && <button type="button" onClick={test}>Test connection</button>}
        <button type="button" onClick={onDone}>Cancel</button>
      </div>
      <ErrorLine error={error} />
      {probe !== null && <p class="ok" role="status">{probe}</p>}
    </form>
  );
}

interface Rule { id: string; actions: unknown[] }

/** Adds an action ("http:hook") to a rule's outputs (PUT /api/v5/rules/{id} with the longer list). */
function AttachToRule({ actions }: { actions: Resource[] | undefined }): JSX.Element {
  const rules = useApi<{ data: Rule[] }>('/api/v5/rules?limit=1000', 10000);
  const [action, setAction] = useState('');
  const [rule, setRule] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const [error, run] = useAction();
  const a = action || (actions?.[0] ? idOf(actions[0]) : '');
  const r = rule || (rules.data?.data[0]?.id ?? '');
  const attach = (e: Event): void => {
    e.preventDefault();
    setDone(null);
    void run(async () => {
      const current = await get<Rule>(`/api/v5/rules/${enc(r)}`);
      if (current.actions.includes(a)) throw new Error(`rule ${r} already sends to ${a}`);
      await call('PUT', `/api/v5/rules/${enc(r)}`, { actions: [...current.actions, a] });
      setDone(`Rule ${r} now sends its output to ${a}.`);
    });
  };
  return (
    <Section title="Attach an action to a rule">
      <form class="row" onSubmit={attach} aria-label="Attach an action to a rule">
        <Field label="Action to attach">
          <select required value={a} onChange={(e) => setAction(inputValue(e))}>{(actions ?? []).map((x) => <option key={idOf(x)} value={idOf(x)}>{idOf(x)}</option>)}</select>
        </Field>
        <Field label="Rule">
          <select required value={r} onChange={(e) => setRule(inputValue(e))}>{(rules.data?.data ?? []).map((x) => <option key={x.id} value={x.id}>{x.id}</option>)}</select>
        </Field>
        <button type="submit" disabled={a === '' || r === ''}>Attach to rule</button>
      </form>
      <ErrorLine error={rules.error ?? error} />
      {done !== null && <p class="ok" role="status">{done}</p>}
    </Section>
  );
}
