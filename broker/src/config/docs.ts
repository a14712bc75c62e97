/**
 * Renders docs/config.md from the schema: one table row per key (named entries such as
 * listeners are shown as `listeners.tcp.<name>.bind`). The text is a pure function of the
 * schema, so a test can regenerate it and compare with the committed file.
 */
import type { Leaf, SchemaNode } from './schema-types.js';
import { schema } from './schema.js';
import { formatSize } from './units.js';

interface Row { key: string; type: string; default: string; description: string }

function typeOf(l: Leaf<unknown>): string {
  const range = (u = '') => {
    const parts: string[] = [];
    if (l.min !== undefined) parts.push(`≥ ${l.kind === 'size' ? formatSize(l.min) : l.min}${u}`);
    if (l.max !== undefined) parts.push(`≤ ${l.kind === 'size' ? formatSize(l.max) : l.max}${u}`);
    return parts.length ? ` (${parts.join(', ')})` : '';
  };
  switch (l.kind) {
    case 'string': return 'string';
    case 'bool': return 'boolean';
    case 'int': return `integer${l.infinity ? ' \\| infinity' : ''}${l.disabled ? ' \\| disabled' : ''}${l.unit ? ` (${l.unit})` : ''}${range()}`;
    case 'number': return `number${range()}`;
    case 'duration': return `duration${l.infinity ? ' \\| infinity' : ''}${range(' ms')}`;
    case 'size': return `size${range()}`;
    case 'enum': return (l.values ?? []).map((v) => `\`${v}\``).join(' \\| ');
    case 'list': return l.values ? `list of ${l.values.map((v) => `\`${v}\``).join(', ')}` : `list of strings${l.min ? ` (≥ ${l.min})` : ''}`;
    case 'bind': return 'address';
    case 'custom': return l.typeName ?? 'structured';
  }
}

function showDefault(l: Leaf<unknown>, override?: unknown): string {
  const d = override !== undefined ? override : l.default;
  if (l.kind === 'custom') return `\`${JSON.stringify(d)}\``;
  if (Array.isArray(d)) return d.length ? `\`[${d.join(', ')}]\`` : '`[]`';
  if (d === '') return '`""`';
  return `\`${String(d)}\``;
}

function walk(node: SchemaNode, key: string, rows: Row[], defaults?: Record<string, unknown>): void {
  if (node.node === 'leaf') {
    const last = key.slice(key.lastIndexOf('.') + 1);
    rows.push({ key, type: typeOf(node), default: showDefault(node, defaults?.[last]), description: node.description });
    return;
  }
  if (node.node === 'map') {
    for (const [k, child] of Object.entries(node.item.fields as Record<string, SchemaNode>)) walk(child, `${key}.<name>.${k}`, rows);
    return;
  }
  for (const [k, child] of Object.entries(node.fields as Record<string, SchemaNode>)) walk(child, key ? `${key}.${k}` : k, rows);
}

const esc = (s: string) => s.replace(/\|/g, '\\|');

export function renderConfigDocs(): string {
  const rows: Row[] = [];
  walk(schema, '', rows);
  const sections = new Map<string, Row[]>();
  for (const r of rows) {
    const sec = r.key.split('.')[0]!;
    if (!sections.has(sec)) sections.set(sec, []);
    sections.get(sec)!.push(r);
  }
  const out: string[] = [
    '# Petrel configuration reference',
    '',
    '<!-- Generated from broker/src/config/schema.ts by `node --import tsx broker/src/config/gen-docs.ts`',
    '     (or `node dist/broker/src/config/gen-docs.js`). Do not edit by hand; a test fails when stale. -->',
    '',
    'The broker reads, in order (later wins): the defaults below, a YAML file (`petrel --config petrel.yaml`),',
    '`PETREL_*` environment variables, then programmatic overrides. The result is checked against this table:',
    'unknown keys (the closest known key is suggested), wrong types and out-of-range values are errors naming',
    'the key, e.g. `mqtt.max_packet_size`. Nothing is clamped silently.',
    '',
    '- **Environment**: `__` separates levels, keys are lowercased: `PETREL_LISTENERS__TCP__DEFAULT__BIND=0.0.0.0:1884`',
    '  sets `listeners.tcp.default.bind`; `PETREL_MQTT__MAX_PACKET_SIZE=2MB` sets `mqtt.max_packet_size`. Lists take',
    '  `a,b` or `[a, b]`. Variables without `__` (e.g. `PETREL_CONFIG`) are not config keys.',
    '- **Durations**: `500ms`, `30s`, `15m`, `2h`, `1d`, sums like `1h30m`, `0`, or `infinity` where allowed.',
    '  A bare number other than 0 is refused (the unit would be a guess).',
    '- **Sizes**: `256` (bytes), `64KB`, `1MB`, `1GB` (powers of 1024).',
    '- **Addresses**: `1883` (all IPv4 interfaces), `127.0.0.1:1883`, `[::]:1883`. Port `0` picks a free port.',
    '- **Named entries** (`<name>`): lowercase letters, digits, `_`, `-`. Any number per listener type; set an',
    '  entry to `null` to remove a default one. Defaults: `listeners.tcp.default` (1883) and `listeners.ws.default`',
    '  (8083, path `/mqtt`) enabled; `listeners.ssl.default` (8883) and `listeners.wss.default` (8084) present but',
    '  disabled (they need `ssl_options.certfile` and `keyfile`).',
    '',
    'Example:',
    '',
    '```yaml',
    'node:',
    '  name: petrel@10.0.0.5',
    'listeners:',
    '  tcp:',
    '    default: {bind: "0.0.0.0:1883", max_connections: 100000}',
    '    internal: {bind: "127.0.0.1:11883"}',
    '  ssl:',
    '    default:',
    '      enable: true',
    '      ssl_options: {certfile: certs/server.crt, keyfile: certs/server.key, cacertfile: certs/ca.crt,',
    '                    verify: verify_peer, fail_if_no_peer_cert: true}',
    'mqtt:',
    '  max_packet_size: 256KB',
    '  session_expiry_interval: 2h',
    '```',
  ];
  for (const [sec, list] of sections) {
    out.push('', `## ${sec}`, '', '| Key | Type | Default | Description |', '|---|---|---|---|');
    for (const r of list) out.push(`| \`${r.key}\` | ${r.type} | ${esc(r.default)} | ${esc(r.description)} |`);
  }
  out.push('', '### Listener defaults by type', '', '| Listener type | Default `bind` | Default entry |', '|---|---|---|');
  const lt = (schema.fields.listeners.fields) as Record<string, { item: { fields: { bind: Leaf<unknown> } }; defaults: Record<string, Record<string, unknown>> }>;
  for (const [t, m] of Object.entries(lt)) {
    const entries = Object.entries(m.defaults).map(([n, v]) => `\`${n}\`${v['enable'] === false ? ' (disabled)' : ' (enabled)'}`).join(', ');
    out.push(`| \`${t}\` | \`${String(m.item.fields.bind.default)}\` | ${entries || 'none'} |`);
  }
  return out.join('\n') + '\n';
}
