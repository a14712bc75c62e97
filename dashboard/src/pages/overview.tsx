/** Overview: headline gauges, the last hour's charts (sampled by the browser, history.ts) and the node list. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Chart } from '../chart.js';
import { latest, SAMPLE_MS, series, subscribe } from '../history.js';
import { bytes, duration, Section, Status, Table, useApi } from '../ui.js';

interface NodeRow {
  node: string; node_status: string; role: string; region: string; version: string;
  uptime: number; connections: number | null; memory_used: number | null; link_state: string;
}

const GAUGES: Array<[string, string]> = [
  ['connections.count', 'Connections'], ['sessions.count', 'Sessions'], ['subscriptions.count', 'Subscriptions'],
  ['topics.count', 'Topics'], ['retained.count', 'Retained'],
];

export function OverviewPage(): JSX.Element {
  const [tick, setTick] = useState(0);
  useEffect(() => subscribe(() => setTick((n) => n + 1)), []);
  const nodes = useApi<NodeRow[]>('/api/v5/nodes', SAMPLE_MS);
  const times = (): number[] => series.t;
  return (
    <>
      <dl class="gauges">
        {GAUGES.map(([k, label]) => (
          <div key={k}><dt>{label}</dt><dd data-testid={k}>{latest[k] ?? '–'}</dd></div>
        ))}
      </dl>
      <p class="muted">Sampled by this page every {SAMPLE_MS / 1000} s; the charts keep the last hour while the dashboard stays open.</p>
      <div class="charts">
        <Chart title="Connections" tick={tick} times={times} lines={[{ label: 'connections', color: '#2563eb', values: () => series.connections }]} />
        <Chart title="Messages per second" tick={tick} times={times} lines={[
          { label: 'in', color: '#16a34a', values: () => series.inRate },
          { label: 'out', color: '#9333ea', values: () => series.outRate },
        ]} />
        <Chart title="Dropped per second" tick={tick} times={times} lines={[{ label: 'dropped', color: '#dc2626', values: () => series.droppedRate }]} />
      </div>
      <Section title="Nodes">
        <Table caption="Nodes" rows={nodes.data} rowKey={(n) => n.node} cols={[
          { label: 'Node', cell: (n) => n.node },
          { label: 'Status', cell: (n) => <Status value={n.node_status} /> },
          { label: 'Role', cell: (n) => n.role },
          { label: 'Region', cell: (n) => n.region || '–' },
          { label: 'Link', cell: (n) => n.link_state },
          { label: 'Connections', cell: (n) => n.connections ?? '–' },
          { label: 'Memory', cell: (n) => bytes(n.memory_used) },
          { label: 'Uptime', cell: (n) => duration(n.uptime) },
          { label: 'Version', cell: (n) => n.version },
        ]} />
      </Section>
    </>
  );
}
