/** Retained messages: list (paged), read one payload, delete (administrators). */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, enc, get } from '../api.js';
import { Admin, ErrorLine, Pager, Table, time, useAction, usePaged } from '../ui.js';

interface Row { topic: string; qos: number; from_clientid: string | null; publish_at: string }

export function RetainedPage(): JSX.Element {
  const list = usePaged<Row>('/api/v5/retainer/messages', 10000);
  const [shown, setShown] = useState<{ topic: string; payload: string } | null>(null);
  const [error, run] = useAction();
  const show = (topic: string): void => {
    void run(async () => {
      const m = await get<{ payload: string }>(`/api/v5/retainer/message/${enc(topic)}`);
      setShown({ topic, payload: decode(m.payload) });
    });
  };
  const remove = (topic: string): void => {
    void run(() => call('DELETE', `/api/v5/retainer/message/${enc(topic)}`)).then(() => { setShown(null); list.reload(); });
  };
  return (
    <>
      <ErrorLine error={list.error ?? error} />
      <Table caption="Retained messages" rows={list.data?.data} rowKey={(r) => r.topic} cols={[
        { label: 'Topic', cell: (r) => r.topic },
        { label: 'QoS', cell: (r) => r.qos },
        { label: 'From', cell: (r) => r.from_clientid || '–' },
        { label: 'Published', cell: (r) => time(r.publish_at) },
        { label: 'Actions', cell: (r) => (
          <>
            <button type="button" aria-label={`Show payload of ${r.topic}`} onClick={() => show(r.topic)}>Show</button>
            <Admin><button type="button" class="danger" aria-label={`Delete retained ${r.topic}`} onClick={() => remove(r.topic)}>Delete</button></Admin>
          </>
        ) },
      ]} />
      <Pager list={list} what="retained messages" />
      {shown && <section aria-label="Payload"><h2>Payload of {shown.topic}</h2><pre>{shown.payload}</pre></section>}
    </>
  );
}

/** The payload as UTF-8 text when it is, else as base64. */
function decode(b64: string): string {
  const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try { return new TextDecoder('utf-8', { fatal: true }).decode(bin); } catch { return `(binary, base64) ${b64}`; }
}
