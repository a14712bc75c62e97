/** Subscriptions of every session, and the distinct topic filters the node routes; both paged. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorLine, Field, inputValue, Pager, Section, Table, usePaged } from '../ui.js';

interface SubRow { clientid: string; topic: string; qos: number; node: string }
interface TopicRow { topic: string; node: string }

export function SubscriptionsPage(): JSX.Element {
  const [filter, setFilter] = useState('');
  const subs = usePaged<SubRow>('/api/v5/subscriptions', 5000);
  const topics = usePaged<TopicRow>('/api/v5/topics', 5000);
  const f = filter.toLowerCase();
  const rows = subs.data?.data.filter((s) => !f || s.clientid.toLowerCase().includes(f) || s.topic.toLowerCase().includes(f));
  return (
    <>
      <Field label="Filter this page by client id or topic"><input type="search" value={filter} onInput={(e) => setFilter(inputValue(e))} /></Field>
      <ErrorLine error={subs.error ?? topics.error} />
      <Section title="Subscriptions">
        <Table caption="Subscriptions" rows={rows} rowKey={(s) => `${s.node}/${s.clientid}/${s.topic}`} cols={[
          { label: 'Client id', cell: (s) => s.clientid },
          { label: 'Topic filter', cell: (s) => s.topic },
          { label: 'QoS', cell: (s) => s.qos },
          { label: 'Node', cell: (s) => s.node },
        ]} />
        <Pager list={subs} what="subscriptions" />
      </Section>
      <Section title="Topics">
        <Table caption="Topics" rows={topics.data?.data} rowKey={(t) => `${t.node}/${t.topic}`} cols={[
          { label: 'Topic filter', cell: (t) => t.topic },
          { label: 'Node', cell: (t) => t.node },
        ]} />
        <Pager list={topics} what="topics" />
      </Section>
    </>
  );
}
