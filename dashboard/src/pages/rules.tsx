/**
 * Rules: the list (paged) with each rule's outputs (a connector's action can be detached) and
 * counters, and an SQL editor that runs the SQL over a sample message with POST
 * /api/v5/rule_test (nothing is published) before saving it as a rule.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiFailure, call, enc, isAdmin } from '../api.js';
import { Admin, ErrorLine, Field, inputValue, Pager, Section, Table, useAction, useApi, usePaged } from '../ui.js';

interface Rule { id: string; name: string; sql: string; enable: boolean; description: string; actions: unknown[] }
interface RuleMetrics { metrics: Record<string, number> }

const SAMPLE_SQL = 'SELECT payload.temp AS t, clientid\nFROM "sensors/#"\nWHERE payload.temp > 30';

export function RulesPage(): JSX.Element {
  const list = usePaged<Rule>('/api/v5/rules', 5000);
  const [error, run] = useAction();
  const toggle = (r: Rule): void => { void run(() => call('PUT', `/api/v5/rules/${enc(r.id)}`, { enable: !r.enable })).then(list.reload); };
  const remove = (r: Rule): void => { void run(() => call('DELETE', `/api/v5/rules/${enc(r.id)}`)).then(list.reload); };
  const detach = (r: Rule, a: string): void => { void run(() => call('PUT', `/api/v5/rules/${enc(r.id)}`, { actions: r.actions.filter((x) => x !== a) })).then(list.reload); };
  return (
    <>
      <ErrorLine error={list.error ?? error} />
      <Table caption="Rules" rows={list.data?.data} rowKey={(r) => r.id} empty="No rules yet." cols={[
        { label: 'Id', cell: (r) => r.id },
        { label: 'SQL', cell: (r) => <code class="sql">{r.sql}</code> },
        { label: 'Enabled', cell: (r) => (r.enable ? 'yes' : 'no') },
        { label: 'Outputs', cell: (r) => (r.actions.length === 0 ? '–' : r.actions.map((a, i) => (
          <div key={i}>{output(a)}{typeof a === 'string' && (
            <Admin> <button type="button" class="danger" aria-label={`Detach ${a} from rule ${r.id}`} onClick={() => detach(r, a)}>Detach</button></Admin>
          )}</div>
        ))) },
        { label: 'Metrics', cell: (r) => <Metrics id={r.id} /> },
        { label: 'Actions', cell: (r) => (
          <Admin>
            <button type="button" aria-label={`${r.enable ? 'Disable' : 'Enable'} rule ${r.id}`} onClick={() => toggle(r)}>{r.enable ? 'Disable' : 'Enable'}</button>
            <button type="button" class="danger" aria-label={`Delete rule ${r.id}`} onClick={() => remove(r)}>Delete</button>
          </Admin>
        ) },
      ]} />
      <Pager list={list} what="rules" />
      {isAdmin() ? <Editor onCreated={list.reload} />
        : <p class="muted">The SQL editor is for administrators: the node counts a rule test (POST /api/v5/rule_test) as a change.</p>}
    </>
  );
}

/** An action id ("http:hook") or a built-in function (console, republish → topic). */
function output(a: unknown): string {
  if (typeof a === 'string') return a;
  const f = a as { function?: string; args?: { topic?: string } };
  return f.function === 'republish' ? `republish → ${f.args?.topic ?? ''}` : f.function ?? '?';
}

function Metrics({ id }: { id: string }): JSX.Element {
  const m = useApi<RuleMetrics>(`/api/v5/rules/${enc(id)}/metrics`, 5000).data?.metrics;
  if (!m) return <span class="muted">…</span>;
  return <span class="metrics" data-testid={`metrics-${id}`}>matched {m.matched} · passed {m.passed} · failed {m.failed} · actions ok {m['actions.success']}/{m['actions.total']}</span>;
}

function Editor({ onCreated }: { onCreated: () => void }): JSX.Element {
  const [sql, setSql] = useState(SAMPLE_SQL);
  const [id, setId] = useState('');
  const [topic, setTopic] = useState('sensors/a/temp');
  const [payload, setPayload] = useState('{"temp": 31.5}');
  const [output, setOutput] = useState<string | null>(null);
  const [error, run] = useAction();
  const test = (): void => {
    setOutput(null);
    void run(async () => {
      try {
        const out = await call('POST', '/api/v5/rule_test', { sql, context: { event_type: 'message_publish', topic, payload, clientid: 'dashboard-test', qos: 0 } });
        setOutput(JSON.stringify(out, null, 2));
      } catch (e) {
        if (!(e instanceof ApiFailure && e.code === 'SQL_NOT_MATCH')) throw e;
        setOutput('No match: the sample is not selected by FROM, or WHERE is false.');
      }
    });
  };
  const create = (): void => {
    void run(async () => {
      await call('POST', '/api/v5/rules', { ...(id ? { id } : {}), sql, actions: [{ function: 'console' }] });
      setOutput(null);
      onCreated();
    });
  };
  return (
    <Section title="SQL editor">
      <Field label="Rule SQL"><textarea class="code" rows={6} spellcheck={false} value={sql} onInput={(e) => setSql(inputValue(e))} /></Field>
      <div class="row">
        <Field label="Sample topic"><input value={topic} onInput={(e) => setTopic(inputValue(e))} /></Field>
        <Field label="Sample payload"><input value={payload} onInput={(e) => setPayload(inputValue(e))} /></Field>
      </div>
      <div class="row">
        <button type="button" onClick={test}>Test SQL</button>
        <Field label="New rule id (optional)"><input value={id} onInput={(e) => setId(inputValue(e))} /></Field>
        <button type="button" onClick={create}>Create rule</button>
      </div>
      <p class="muted">A created rule logs its output (the console action); attach connectors' actions to it on the Connectors & actions page.</p>
      <ErrorLine error={error} />
      {output !== null && <pre data-testid="rule-test-output" aria-label="Test output">{output}</pre>}
    </Section>
  );
}
