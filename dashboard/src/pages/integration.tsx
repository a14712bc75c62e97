/** Connectors and actions (data integration) with their status; enable and disable for administrators. */
import type { JSX } from 'preact';
import { call, enc } from '../api.js';
import { Admin, ErrorLine, Section, Status, Table, useAction, useApi } from '../ui.js';

interface Resource { type: string; name: string; enable: boolean; status: string; status_reason?: string | null; connector?: string }

export function IntegrationPage(): JSX.Element {
  return (
    <>
      <Resources kind="connectors" title="Connectors" />
      <Resources kind="actions" title="Actions" />
    </>
  );
}

function Resources({ kind, title }: { kind: 'connectors' | 'actions'; title: string }): JSX.Element {
  const list = useApi<Resource[]>(`/api/v5/${kind}`, 5000);
  const [error, run] = useAction();
  const toggle = (r: Resource): void => {
    void run(() => call('POST', `/api/v5/${kind}/${enc(`${r.type}:${r.name}`)}/enable/${!r.enable}`)).then(list.reload);
  };
  return (
    <Section title={title}>
      <ErrorLine error={list.error ?? error} />
      <Table caption={title} rows={list.data} rowKey={(r) => `${r.type}:${r.name}`} empty={`No ${kind} configured.`} cols={[
        { label: 'Type', cell: (r) => r.type },
        { label: 'Name', cell: (r) => r.name },
        ...(kind === 'actions' ? [{ label: 'Connector', cell: (r: Resource) => r.connector ?? '–' }] : []),
        { label: 'Status', cell: (r) => <Status value={r.enable ? r.status : 'disabled'} /> },
        { label: 'Reason', cell: (r) => r.status_reason ?? '' },
        { label: 'Actions', cell: (r) => (
          <Admin><button type="button" aria-label={`${r.enable ? 'Disable' : 'Enable'} ${r.type}:${r.name}`} onClick={() => toggle(r)}>{r.enable ? 'Disable' : 'Enable'}</button></Admin>
        ) },
      ]} />
    </Section>
  );
}
