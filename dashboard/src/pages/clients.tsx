/** Clients: search (client id or user name substring), paged, a detail panel with subscriptions and queues, kick. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, enc } from '../api.js';
import { Admin, ErrorLine, Field, inputValue, Pager, Section, Table, time, useAction, useApi, usePaged } from '../ui.js';

interface ClientRow {
  clientid: string; username: string | null; ip_address: string | null; port: number | null; listener: string | null;
  proto_name: string; proto_ver: number; connected: boolean; connected_at: string | null; clean_start: boolean;
  keepalive: number; expiry_interval: number; subscriptions_cnt: number; inflight_cnt: number; mqueue_len: number;
  awaiting_rel_cnt: number; node: string;
}
interface Sub { topic: string; qos: number; nl: number; rap: number; rh: number }

export function ClientsPage(): JSX.Element {
  const [clientid, setClientid] = useState('');
  const [username, setUsername] = useState('');
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const list = usePaged<ClientRow>(`/api/v5/clients${query.replace('&', '?')}`, 5000);
  const [error, run] = useAction();
  const search = (e: Event): void => {
    e.preventDefault();
    setQuery((clientid ? `&like_clientid=${enc(clientid)}` : '') + (username ? `&like_username=${enc(username)}` : ''));
  };
  const kick = (id: string): void => {
    void run(() => call('DELETE', `/api/v5/clients/${enc(id)}`)).then((ok) => { if (ok) { if (open === id) setOpen(null); list.reload(); } });
  };
  return (
    <>
      <form class="row" role="search" onSubmit={search}>
        <Field label="Client id contains"><input value={clientid} onInput={(e) => setClientid(inputValue(e))} /></Field>
        <Field label="Username contains"><input value={username} onInput={(e) => setUsername(inputValue(e))} /></Field>
        <button type="submit">Search</button>
      </form>
      <ErrorLine error={list.error ?? error} />
      <Pager list={list} what="clients" />
      <Table caption="Connected clients" rows={list.data?.data} rowKey={(c) => `${c.node}/${c.clientid}`} empty="No client matches." cols={[
        { label: 'Client id', cell: (c) => <button type="button" class="link" aria-expanded={open === c.clientid} onClick={() => setOpen(open === c.clientid ? null : c.clientid)}>{c.clientid}</button> },
        { label: 'Username', cell: (c) => c.username ?? '–' },
        { label: 'Address', cell: (c) => (c.ip_address ? `${c.ip_address}:${c.port}` : '–') },
        { label: 'Protocol', cell: (c) => `${c.proto_name} ${c.proto_ver}` },
        { label: 'Node', cell: (c) => c.node },
        { label: 'Connected at', cell: (c) => time(c.connected_at) },
        { label: 'Subs', cell: (c) => c.subscriptions_cnt },
        { label: 'Actions', cell: (c) => <Admin><button type="button" class="danger" aria-label={`Kick ${c.clientid}`} onClick={() => kick(c.clientid)}>Kick</button></Admin> },
      ]} />
      {open !== null && <ClientDetail id={open} />}
    </>
  );
}

function ClientDetail({ id }: { id: string }): JSX.Element {
  const c = useApi<ClientRow>(`/api/v5/clients/${enc(id)}`, 5000);
  const subs = useApi<Sub[]>(`/api/v5/clients/${enc(id)}/subscriptions`, 5000);
  const d = c.data;
  return (
    <Section title={`Client ${id}`}>
      <ErrorLine error={c.error} />
      {d && (
        <dl class="facts">
          <dt>Connected</dt><dd>{d.connected ? 'yes' : 'no (session kept)'}</dd>
          <dt>Listener</dt><dd>{d.listener ?? '–'}</dd>
          <dt>Clean start</dt><dd>{String(d.clean_start)}</dd>
          <dt>Keepalive</dt><dd>{d.keepalive} s</dd>
          <dt>Session expiry</dt><dd>{d.expiry_interval} s</dd>
          <dt>Message queue</dt><dd data-testid="mqueue">{d.mqueue_len}</dd>
          <dt>In flight</dt><dd>{d.inflight_cnt}</dd>
          <dt>Awaiting PUBREL</dt><dd>{d.awaiting_rel_cnt}</dd>
        </dl>
      )}
      <Table caption="Subscriptions" rows={subs.data} rowKey={(s) => s.topic} empty="No subscriptions." cols={[
        { label: 'Topic filter', cell: (s) => s.topic },
        { label: 'QoS', cell: (s) => s.qos },
        { label: 'No local', cell: (s) => s.nl },
        { label: 'Retain as published', cell: (s) => s.rap },
        { label: 'Retain handling', cell: (s) => s.rh },
      ]} />
    </Section>
  );
}
