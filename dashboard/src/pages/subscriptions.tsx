/** Subscriptions of every session, and the distinct topic filters the node routes. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorLine, Field, inputValue, Section, Table, useApi } from '../ui.js';

interface SubRow { clientid: string; topic: string; qos: number; node: string }
interface TopicRow { topic: string; node: string }

export function SubscriptionsPage(): JSX.Element {
  const [filter, setFilter] = useState('');
  const subs = useApi<{ data: SubRow[] }>('/api/v5/subscriptions?limit=1000', 5000);
  const topics = useApi<{ data: TopicRow[] }>('/api/v5/topics?limit=1000', 5000);
  const f = filter.toLowerCase();
  const rows = subs.data?.data.filter((s) => !f || s.clientid.toLowerCase().includes(f) || s.topic.toLowerCase().includes(f));
  return (
    <>
      <Field label="Filter by client id or topic"><input type="search" value={filter} onInput={(e) => setFilter(inputValue(e))} /></Field>
      <ErrorLine error={subs.error ?? topics.error} />
      <Section title="Subscriptions">
        <Table caption="Subscriptions" rows={rows} rowKey={(s) => `${s.node}/${s.clientid}/${s.topic}`} cols={[
          { label: 'Client id', cell: (s) => s.clientid },
          { label: 'Topic filter', cell: (s) => s.topic },
          { label: 'QoS', cell: (s) => s.qos },
          { label: 'Node', cell: (s) => s.node },
        ]} />
      </Section>
      <Section title="Topics">
        <Table caption="Topics" rows={topics.data?.data} rowKey={(t) => `${t.node}/${t.topic}`} cols={[
          { label: 'Topic filter', cell: (t) => t.topic },
          { label: 'Node', cell: (t) => t.node },
        ]} />
      </Section>
    </>
  );
}
