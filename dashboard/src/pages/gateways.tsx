/** Gateways (MQTT-SN, CoAP, OCPP): status, connections, listeners; enable and disable for administrators. */
import type { JSX } from 'preact';
import { call, enc } from '../api.js';
import { Admin, ErrorLine, Status, Table, useAction, useApi } from '../ui.js';

interface Gateway { name: string; status: string; current_connections?: number; max_connections?: number | string; listeners?: Array<{ id?: string; bind?: string; type?: string }> }

export function GatewaysPage(): JSX.Element {
  const list = useApi<Gateway[]>('/api/v5/gateways', 5000);
  const [error, run] = useAction();
  const set = (g: Gateway, enable: boolean): void => {
    void run(() => call('PUT', `/api/v5/gateways/${enc(g.name)}/enable/${enable}`)).then(list.reload);
  };
  return (
    <>
      <ErrorLine error={list.error ?? error} />
      <Table caption="Gateways" rows={list.data} rowKey={(g) => g.name} cols={[
        { label: 'Name', cell: (g) => g.name },
        { label: 'Status', cell: (g) => <Status value={g.status} /> },
        { label: 'Connections', cell: (g) => g.current_connections ?? '–' },
        { label: 'Listeners', cell: (g) => (g.listeners ?? []).map((l) => l.bind ?? l.id).join(', ') || '–' },
        { label: 'Actions', cell: (g) => (g.status === 'unloaded' ? <span class="muted">not in the config file</span> : (
          <Admin>
            <button type="button" aria-label={`${g.status === 'running' ? 'Disable' : 'Enable'} gateway ${g.name}`} onClick={() => set(g, g.status !== 'running')}>
              {g.status === 'running' ? 'Disable' : 'Enable'}
            </button>
          </Admin>
        )) },
      ]} />
    </>
  );
}
