/**
 * Access control: the authentication chain (authn.tsx), the authorization sources, the banned
 * list (paged), where an administrator adds and lifts bans, and the dashboard's own users.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, currentSession, enc } from '../api.js';
import { Admin, ErrorLine, Field, inputValue, Pager, Section, Table, time, useAction, useApi, usePaged } from '../ui.js';
import { Authentication } from './authn.js';

interface Source { type: string; enable: boolean }
interface Ban { as: string; who: string; by: string; reason: string; at: string; until: string }

export function AccessPage(): JSX.Element {
  return (
    <>
      <Authentication />
      <Authorization />
      <Banned />
      <DashboardUsers />
    </>
  );
}

function Authorization(): JSX.Element {
  const sources = useApi<{ sources: Source[] }>('/api/v5/authorization/sources', 10000);
  return (
    <Section title="Authorization (ACL sources)">
      <ErrorLine error={sources.error} />
      <Table caption="ACL sources, in the order they are asked" rows={sources.data?.sources} rowKey={(s) => s.type} empty="No source: the no_match setting decides." cols={[
        { label: 'Type', cell: (s) => s.type },
        { label: 'Enabled', cell: (s) => (s.enable ? 'yes' : 'no') },
      ]} />
    </Section>
  );
}

const KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'];

function Banned(): JSX.Element {
  const bans = usePaged<Ban>('/api/v5/banned', 10000);
  const [as, setAs] = useState('clientid');
  const [who, setWho] = useState('');
  const [reason, setReason] = useState('');
  const [error, run] = useAction();
  const add = (e: Event): void => {
    e.preventDefault();
    void run(() => call('POST', '/api/v5/banned', { as, who, reason })).then((ok) => { if (ok) { setWho(''); setReason(''); bans.reload(); } });
  };
  const lift = (b: Ban): void => { void run(() => call('DELETE', `/api/v5/banned/${enc(b.as)}/${enc(b.who)}`)).then(bans.reload); };
  return (
    <Section title="Banned">
      <ErrorLine error={bans.error ?? error} />
      <Table caption="Active bans" rows={bans.data?.data} rowKey={(b) => `${b.as}:${b.who}`} empty="Nobody is banned." cols={[
        { label: 'As', cell: (b) => b.as },
        { label: 'Who', cell: (b) => b.who },
        { label: 'Reason', cell: (b) => b.reason },
        { label: 'By', cell: (b) => b.by },
        { label: 'Since', cell: (b) => time(b.at) },
        { label: 'Until', cell: (b) => (b.until === 'infinity' ? 'forever' : time(b.until)) },
        { label: 'Actions', cell: (b) => <Admin><button type="button" aria-label={`Lift ban on ${b.as} ${b.who}`} onClick={() => lift(b)}>Lift</button></Admin> },
      ]} />
      <Pager list={bans} what="bans" />
      <Admin>
        <form class="row" onSubmit={add} aria-label="Add a ban">
          <Field label="Ban by">
            <select value={as} onChange={(e) => setAs(inputValue(e))}>{KINDS.map((k) => <option key={k} value={k}>{k}</option>)}</select>
          </Field>
          <Field label="Who"><input required value={who} onInput={(e) => setWho(inputValue(e))} /></Field>
          <Field label="Reason"><input value={reason} onInput={(e) => setReason(inputValue(e))} /></Field>
          <button type="submit">Ban</button>
        </form>
      </Admin>
    </Section>
  );
}

interface DashboardUser { username: string; role: string; description: string }

function DashboardUsers(): JSX.Element {
  const users = useApi<DashboardUser[]>('/api/v5/users', 30000);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState('viewer');
  const [error, run] = useAction();
  const me = currentSession()?.username;
  const add = (e: Event): void => {
    e.preventDefault();
    void run(() => call('POST', '/api/v5/users', { username, password, role })).then((ok) => { if (ok) { setUsername(''); setPassword(''); users.reload(); } });
  };
  const remove = (u: DashboardUser): void => { void run(() => call('DELETE', `/api/v5/users/${enc(u.username)}`)).then(users.reload); };
  return (
    <Section title="Dashboard users">
      <ErrorLine error={users.error ?? error} />
      <Table caption="Dashboard users" rows={users.data} rowKey={(u) => u.username} cols={[
        { label: 'Username', cell: (u) => u.username },
        { label: 'Role', cell: (u) => u.role },
        { label: 'Description', cell: (u) => u.description },
        { label: 'Actions', cell: (u) => (u.username === me ? <span class="muted">you</span>
          : <Admin><button type="button" class="danger" aria-label={`Delete dashboard user ${u.username}`} onClick={() => remove(u)}>Delete</button></Admin>) },
      ]} />
      <Admin>
        <form class="row" onSubmit={add} aria-label="Add a dashboard user">
          <Field label="Dashboard username"><input required value={username} onInput={(e) => setUsername(inputValue(e))} /></Field>
          <Field label="Dashboard password (8+ characters, two kinds)"><input type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(inputValue(e))} /></Field>
          <Field label="Role">
            <select value={role} onChange={(e) => setRole(inputValue(e))}><option value="viewer">viewer</option><option value="administrator">administrator</option></select>
          </Field>
          <button type="submit">Add dashboard user</button>
        </form>
      </Admin>
    </Section>
  );
}
