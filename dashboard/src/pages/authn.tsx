/**
 * The Access control page's authentication part: the global chain with each authenticator's
 * counters, which administrators add to, edit, reorder (PUT …/position/before:{id}) and remove;
 * and the built-in database's MQTT users (paged; add, delete). The fields per authenticator
 * kind follow the node's parsers (broker/src/access/authn/); the rest goes through the form's
 * JSON. Secrets come back from the API as `******`, and sending `******` back keeps them.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, enc } from '../api.js';
import { bodyOf, defaults, OtherSettings, SpecFields, useFocusFirst, valuesOf, type Spec, type Values } from '../spec-form.js';
import { Admin, ErrorLine, Field, inputValue, Pager, Section, Status, Table, useAction, useApi, usePaged } from '../ui.js';

interface Authenticator { id: string; enable: boolean; mechanism: string; backend?: string; [k: string]: unknown }
interface AuthnStatus { status?: string; metrics?: { total: number; success: number; failed: number; nomatch: number } }
interface User { user_id: string; is_superuser: boolean }

const HASH_NAMES = ['', 'plain', 'md5', 'sha', 'sha256', 'sha512', 'bcrypt', 'pbkdf2'];
const SIMPLE = ['plain', 'md5', 'sha', 'sha256', 'sha512'];
const H = 'password_hash_algorithm';
/** EMQX's password_hash_algorithm: a name and that algorithm's own settings. */
const hash = (): Spec[] => [
  { key: `${H}.name`, label: 'Password hash', kind: 'select', options: HASH_NAMES },
  { key: `${H}.salt_position`, label: 'Salt position', kind: 'select', options: ['', 'prefix', 'suffix', 'disable'], when: (v) => SIMPLE.includes(String(v[`${H}.name`])) },
  { key: `${H}.salt_rounds`, label: 'bcrypt salt rounds', kind: 'number', placeholder: '10', when: (v) => v[`${H}.name`] === 'bcrypt' },
  { key: `${H}.mac_fun`, label: 'PBKDF2 MAC function', kind: 'select', options: ['md4', 'md5', 'ripemd160', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'], required: true, when: (v) => v[`${H}.name`] === 'pbkdf2' },
  { key: `${H}.iterations`, label: 'PBKDF2 iterations', kind: 'number', required: true, when: (v) => v[`${H}.name`] === 'pbkdf2' },
];
const conn = (port: number): Spec[] => [
  { key: 'server', label: 'Server', required: true, placeholder: `host:${port}` },
  { key: 'username', label: 'Username' }, { key: 'password', label: 'Password', kind: 'password' },
];

/** By EMQX's authenticator id (mechanism:backend, or jwt). */
const KINDS: Record<string, Spec[]> = {
  'password_based:built_in_database': [{ key: 'user_id_type', label: 'User id is the', kind: 'select', options: ['', 'username', 'clientid'] }, ...hash()],
  jwt: [
    { key: 'from', label: 'Token from', kind: 'select', options: ['', 'password', 'username'] },
    { key: 'use_jwks', label: 'Keys from a JWKS endpoint', kind: 'bool' },
    { key: 'algorithm', label: 'Algorithm', kind: 'select', options: ['hmac-based', 'public-key'], when: (v) => v.use_jwks !== true },
    { key: 'secret', label: 'HMAC secret', kind: 'password', when: (v) => v.use_jwks !== true && v.algorithm !== 'public-key' },
    { key: 'secret_base64_encoded', label: 'Secret is base64', kind: 'bool', when: (v) => v.use_jwks !== true && v.algorithm !== 'public-key' },
    { key: 'public_key', label: 'Public key (PEM)', kind: 'textarea', when: (v) => v.use_jwks !== true && v.algorithm === 'public-key' },
    { key: 'endpoint', label: 'JWKS endpoint', when: (v) => v.use_jwks === true },
    { key: 'verify_claims', label: 'Claims to verify (JSON object)', kind: 'json', placeholder: '{"sub": "${username}"}' },
  ],
  'password_based:http': [
    { key: 'method', label: 'Method', kind: 'select', options: ['', 'post', 'get'] },
    { key: 'url', label: 'URL', required: true, placeholder: 'http://auth:8080/auth' },
    { key: 'headers', label: 'Headers (JSON object)', kind: 'json' },
    { key: 'body', label: 'Body (JSON object)', kind: 'json', placeholder: '{"username": "${username}", "password": "${password}"}' },
  ],
  'password_based:redis': [
    ...conn(6379), { key: 'database', label: 'Database number', kind: 'number' },
    { key: 'cmd', label: 'Command', required: true, placeholder: 'HMGET mqtt_user:${username} password_hash salt is_superuser' }, ...hash(),
  ],
  'password_based:postgresql': [
    ...conn(5432), { key: 'database', label: 'Database', required: true },
    { key: 'query', label: 'Query', kind: 'textarea', required: true, placeholder: 'SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1' }, ...hash(),
  ],
  'password_based:mysql': [
    ...conn(3306), { key: 'database', label: 'Database', required: true },
    { key: 'query', label: 'Query', kind: 'textarea', required: true, placeholder: 'SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1' }, ...hash(),
  ],
  'scram:built_in_database': [
    { key: 'algorithm', label: 'SCRAM algorithm', kind: 'select', options: ['', 'sha256', 'sha512'] },
    { key: 'iteration_count', label: 'Iteration count', kind: 'number', placeholder: '4096' },
  ],
};
const NOT_SETTINGS = ['id', 'mechanism', 'backend', 'enable'];

export function Authentication(): JSX.Element {
  const chain = useApi<Authenticator[]>('/api/v5/authentication', 10000);
  const [form, setForm] = useState<Authenticator | 'new' | null>(null);
  const [error, run] = useAction();
  const builtIn = chain.data?.find((a) => a.backend === 'built_in_database' && a.mechanism === 'password_based');
  const list = chain.data ?? [];
  const act = (f: () => Promise<unknown>): void => { void run(f).then(chain.reload); };
  const move = (a: Authenticator, by: -1 | 1): void => {
    const i = list.findIndex((x) => x.id === a.id);
    const other = list[i + by];
    if (other) act(() => call('PUT', `/api/v5/authentication/${enc(a.id)}/position/${by < 0 ? 'before' : 'after'}:${enc(other.id)}`));
  };
  const remove = (a: Authenticator): void => {
    if (form !== null && form !== 'new' && form.id === a.id) setForm(null);
    act(() => call('DELETE', `/api/v5/authentication/${enc(a.id)}`));
  };
  return (
    <Section title="Authentication">
      <ErrorLine error={chain.error ?? error} />
      <Table caption="Authenticators, in the order they are asked" rows={chain.data} rowKey={(a) => a.id} empty="No authenticator: every client may connect." cols={[
        { label: 'Id', cell: (a) => a.id },
        { label: 'Mechanism', cell: (a) => a.mechanism },
        { label: 'Backend', cell: (a) => a.backend ?? '–' },
        { label: 'Status', cell: (a) => <AuthnState id={a.id} enable={a.enable} /> },
        { label: 'Actions', cell: (a) => (
          <Admin>
            <button type="button" aria-label={`Edit authenticator ${a.id}`} onClick={() => setForm(a)}>Edit</button>
            <button type="button" aria-label={`Move authenticator ${a.id} up`} disabled={list[0]?.id === a.id} onClick={() => move(a, -1)}>Move up</button>
            <button type="button" aria-label={`Move authenticator ${a.id} down`} disabled={list[list.length - 1]?.id === a.id} onClick={() => move(a, 1)}>Move down</button>
            <button type="button" class="danger" aria-label={`Delete authenticator ${a.id}`} onClick={() => remove(a)}>Delete</button>
          </Admin>
        ) },
      ]} />
      <Admin>
        {form === null ? <button type="button" onClick={() => setForm('new')}>Add authenticator</button>
          : <AuthnForm key={form === 'new' ? 'new' : form.id} editing={form === 'new' ? null : form} taken={list.map((a) => a.id)} onDone={() => { setForm(null); chain.reload(); }} />}
      </Admin>
      {builtIn && <Users id={builtIn.id} />}
    </Section>
  );
}

function AuthnState({ id, enable }: { id: string; enable: boolean }): JSX.Element {
  const s = useApi<AuthnStatus>(`/api/v5/authentication/${enc(id)}/status`, 10000).data;
  if (!enable) return <Status value="disabled" />;
  const m = s?.metrics;
  return <span><Status value={s?.status} /> {m && <span class="muted">ok {m.success} · failed {m.failed} · no match {m.nomatch}</span>}</span>;
}

/** Add (editing null) an authenticator at the end of the chain, or replace one's config. */
function AuthnForm({ editing, taken, onDone }: { editing: Authenticator | null; taken: string[]; onDone: () => void }): JSX.Element {
  const free = Object.keys(KINDS).filter((k) => !taken.includes(k));
  const [kind, setKind] = useState(editing?.id ?? free[0] ?? '');
  const start = editing === null ? { values: defaults(KINDS[kind] ?? []), rest: '' } : valuesOf(KINDS[editing.id] ?? [], editing, NOT_SETTINGS);
  const [values, setValues] = useState<Values>(start.values);
  const [rest, setRest] = useState(start.rest);
  const [enable, setEnable] = useState(editing?.enable ?? true);
  const [error, run] = useAction();
  const ref = useFocusFirst();
  const specs = KINDS[kind] ?? [];
  const save = (e: Event): void => {
    e.preventDefault();
    const [mechanism, backend] = kind.split(':');
    void run(() => {
      const body = { ...bodyOf(specs, values, rest), mechanism, ...(backend ? { backend } : {}), enable };
      return editing === null ? call('POST', '/api/v5/authentication', body) : call('PUT', `/api/v5/authentication/${enc(editing.id)}`, body);
    }).then((ok) => { if (ok) onDone(); });
  };
  const title = editing === null ? 'Add an authenticator' : `Edit authenticator ${editing.id}`;
  return (
    <form class="form" ref={ref} onSubmit={save} aria-label={title}>
      <h3>{title}</h3>
      <div class="row">
        {editing === null && (
          <Field label="Authenticator">
            <select value={kind} onChange={(e) => { const k = inputValue(e); setKind(k); setValues(defaults(KINDS[k] ?? [])); }}>{free.map((k) => <option key={k} value={k}>{k}</option>)}</select>
          </Field>
        )}
        <label class="check"><input type="checkbox" checked={enable} onChange={(e) => setEnable((e.currentTarget as HTMLInputElement).checked)} /> Enabled</label>
      </div>
      <SpecFields specs={specs} values={values} set={(k, v) => setValues({ ...values, [k]: v })} />
      <OtherSettings value={rest} set={setRest} />
      <div class="row">
        <button type="submit" disabled={kind === ''}>{editing === null ? 'Add authenticator to the chain' : 'Save authenticator'}</button>
        <button type="button" onClick={onDone}>Cancel</button>
      </div>
      <ErrorLine error={error} />
    </form>
  );
}

function Users({ id }: { id: string }): JSX.Element {
  const users = usePaged<User>(`/api/v5/authentication/${enc(id)}/users`, 10000);
  const [userId, setUserId] = useState('');
  const [password, setPassword] = useState('');
  const [superuser, setSuperuser] = useState(false);
  const [error, run] = useAction();
  const add = (e: Event): void => {
    e.preventDefault();
    void run(() => call('POST', `/api/v5/authentication/${enc(id)}/users`, { user_id: userId, password, is_superuser: superuser }))
      .then((ok) => { if (ok) { setUserId(''); setPassword(''); users.reload(); } });
  };
  const remove = (u: User): void => { void run(() => call('DELETE', `/api/v5/authentication/${enc(id)}/users/${enc(u.user_id)}`)).then(users.reload); };
  return (
    <>
      <h3>Users of {id}</h3>
      <ErrorLine error={users.error ?? error} />
      <Table caption="MQTT users" rows={users.data?.data} rowKey={(u) => u.user_id} cols={[
        { label: 'User id', cell: (u) => u.user_id },
        { label: 'Superuser', cell: (u) => (u.is_superuser ? 'yes' : 'no') },
        { label: 'Actions', cell: (u) => <Admin><button type="button" class="danger" aria-label={`Delete user ${u.user_id}`} onClick={() => remove(u)}>Delete</button></Admin> },
      ]} />
      <Pager list={users} what="MQTT users" />
      <Admin>
        <form class="row" onSubmit={add} aria-label="Add MQTT user">
          <Field label="User id"><input required value={userId} onInput={(e) => setUserId(inputValue(e))} /></Field>
          <Field label="Password"><input type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(inputValue(e))} /></Field>
          <label class="check"><input type="checkbox" checked={superuser} onChange={(e) => setSuperuser((e.currentTarget as HTMLInputElement).checked)} /> Superuser</label>
          <button type="submit">Add user</button>
        </form>
      </Admin>
    </>
  );
}
