/** Listeners: bind address, state, connection counters; start, stop and restart for administrators. */
import type { JSX } from 'preact';
import { call, enc } from '../api.js';
import { Admin, ErrorLine, Status, Table, useAction, useApi } from '../ui.js';

interface Listener {
  id: string; transport: string; bind: string; running: boolean; port: number;
  currentConnections: number; maxConnections: number | string; accepted: number; rejected: number; handshakeErrors: number;
}

export function ListenersPage(): JSX.Element {
  const list = useApi<Listener[]>('/api/v5/listeners', 5000);
  const [error, run] = useAction();
  const act = (l: Listener, action: 'start' | 'stop' | 'restart'): void => {
    void run(() => call('PUT', `/api/v5/listeners/${enc(l.id)}/${action}`)).then(list.reload);
  };
  return (
    <>
      <ErrorLine error={list.error ?? error} />
      <Table caption="Listeners" rows={list.data} rowKey={(l) => l.id} cols={[
        { label: 'Id', cell: (l) => l.id },
        { label: 'Bind', cell: (l) => (l.running && l.port ? `${l.bind} (port ${l.port})` : l.bind) },
        { label: 'State', cell: (l) => <Status value={l.running} /> },
        { label: 'Connections', cell: (l) => `${l.currentConnections} / ${l.maxConnections}` },
        { label: 'Accepted', cell: (l) => l.accepted },
        { label: 'Rejected', cell: (l) => l.rejected },
        { label: 'Handshake errors', cell: (l) => l.handshakeErrors },
        { label: 'Actions', cell: (l) => (
          <Admin>
            {l.running
              ? <>
                  <button type="button" aria-label={`Restart ${l.id}`} onClick={() => act(l, 'restart')}>Restart</button>
                  <button type="button" class="danger" aria-label={`Stop ${l.id}`} onClick={() => act(l, 'stop')}>Stop</button>
                </>
              : <button type="button" aria-label={`Start ${l.id}`} onClick={() => act(l, 'start')}>Start</button>}
          </Admin>
        ) },
      ]} />
    </>
  );
}
