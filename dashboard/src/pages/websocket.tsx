/** A WebSocket MQTT client for quick checks: connect to the node's ws listener, subscribe, publish, watch. */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Delivery, WsMqttClient } from '../mqtt-ws.js';
import { Field, inputValue, Section, useApi } from '../ui.js';

interface Listener { id: string; transport: string; running: boolean; port: number }

export function WebSocketPage(): JSX.Element {
  const listeners = useApi<Listener[]>('/api/v5/listeners');
  const ws = listeners.data?.find((l) => l.transport === 'ws' && l.running);
  const [url, setUrl] = useState('');
  const [clientId, setClientId] = useState(`dashboard-${Math.random().toString(16).slice(2, 8)}`);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [state, setState] = useState('disconnected');
  const [subTopic, setSubTopic] = useState('test/#');
  const [subQos, setSubQos] = useState(0);
  const [pubTopic, setPubTopic] = useState('test/hello');
  const [pubPayload, setPubPayload] = useState('hello from the dashboard');
  const [pubQos, setPubQos] = useState(0);
  const [retain, setRetain] = useState(false);
  const [log, setLog] = useState<Delivery[]>([]);
  const client = useRef<WsMqttClient | null>(null);
  useEffect(() => { if (url === '' && ws) setUrl(`ws://${location.hostname}:${ws.port}/mqtt`); }, [ws]);
  useEffect(() => () => client.current?.close(), []);
  const connected = state === 'connected';
  const connect = (): void => {
    setState('connecting');
    client.current = new WsMqttClient(url, { clientId, username, password }, {
      onConnected: () => setState('connected'),
      onMessage: (m) => setLog((l) => [m, ...l].slice(0, 200)),
      onClosed: (reason) => { client.current = null; setState(`disconnected: ${reason}`); },
    });
  };
  const qosSelect = (value: number, set: (n: number) => void): JSX.Element => (
    <select value={value} onChange={(e) => set(Number(inputValue(e)))}>{[0, 1].map((q) => <option key={q} value={q}>{q}</option>)}</select>
  );
  return (
    <>
      <Section title="Connection">
        <form class="row" aria-label="Connect" onSubmit={(e) => { e.preventDefault(); if (!connected && state !== 'connecting') connect(); }}>
          <Field label="WebSocket URL"><input value={url} size={34} onInput={(e) => setUrl(inputValue(e))} /></Field>
          <Field label="Client id"><input value={clientId} onInput={(e) => setClientId(inputValue(e))} /></Field>
          <Field label="MQTT username"><input value={username} autoComplete="off" onInput={(e) => setUsername(inputValue(e))} /></Field>
          <Field label="MQTT password"><input type="password" autoComplete="off" value={password} onInput={(e) => setPassword(inputValue(e))} /></Field>
          {connected || state === 'connecting'
            ? <button type="button" onClick={() => client.current?.close()}>Disconnect</button>
            : <button type="submit" disabled={url === ''}>Connect</button>}
        </form>
        <p role="status" data-testid="ws-state">{state}</p>
      </Section>
      <Section title="Subscribe">
        <div class="row">
          <Field label="Topic filter"><input value={subTopic} onInput={(e) => setSubTopic(inputValue(e))} /></Field>
          <Field label="Subscription QoS">{qosSelect(subQos, setSubQos)}</Field>
          <button type="button" disabled={!connected} onClick={() => client.current?.subscribe(subTopic, subQos)}>Subscribe</button>
        </div>
      </Section>
      <Section title="Publish">
        <div class="row">
          <Field label="Topic"><input value={pubTopic} onInput={(e) => setPubTopic(inputValue(e))} /></Field>
          <Field label="Payload"><input value={pubPayload} onInput={(e) => setPubPayload(inputValue(e))} /></Field>
          <Field label="Publish QoS">{qosSelect(pubQos, setPubQos)}</Field>
          <label class="check"><input type="checkbox" checked={retain} onChange={(e) => setRetain((e.currentTarget as HTMLInputElement).checked)} /> Retain</label>
          <button type="button" disabled={!connected} onClick={() => client.current?.publish(pubTopic, pubPayload, pubQos, retain)}>Publish</button>
        </div>
      </Section>
      <Section title="Received">
        <ol class="log" aria-live="polite" data-testid="ws-log">
          {log.map((m, i) => <li key={log.length - i}><code>{m.topic}</code> (QoS {m.qos}{m.retain ? ', retained' : ''}): {m.payload}</li>)}
        </ol>
      </Section>
    </>
  );
}
