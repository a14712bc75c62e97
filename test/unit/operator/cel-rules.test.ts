/**
 * Every CEL rule in the CRD is evaluated with a real CEL implementation (@marcbachmann/cel-js) on
 * valid and invalid MqttClusters, after defaulting as the API server does, and must agree with its
 * TypeScript twin (the one `validate()` and `render` use). Each rule must be seen both passing and
 * failing, so a rule that cannot fail, or fails to parse, is caught here rather than by an API server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '@marcbachmann/cel-js';
import { applyDefaults, type Node, type Rule } from '../../../operator/src/api/schema.js';
import { ROOT_RULES, specSchema } from '../../../operator/src/api/types.js';
import { SAMPLE_SPECS } from './helpers.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON → CEL values: integers are CEL ints (BigInt in this implementation). */
function toCel(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCel);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

interface Site { rule: Rule; self: unknown; path: string }

function* sites(node: Node, value: unknown, path: string): Generator<Site> {
  if (value === undefined || value === null) return;
  for (const rule of node.rules ?? []) yield { rule, self: value, path };
  if (node.kind === 'object' && isObj(value)) for (const [k, f] of Object.entries(node.fields)) yield* sites(f.node, value[k], `${path}.${k}`);
  if (node.kind === 'array' && Array.isArray(value)) for (const [i, v] of value.entries()) yield* sites(node.items, v, `${path}[${i}]`);
  if (node.kind === 'map' && isObj(value)) for (const [k, v] of Object.entries(value)) yield* sites(node.values, v, `${path}.${k}`);
}

function allRules(node: Node, out: Rule[] = []): Rule[] {
  out.push(...(node.rules ?? []));
  if (node.kind === 'object') for (const f of Object.values(node.fields)) allRules(f.node, out);
  if (node.kind === 'array') allRules(node.items, out);
  if (node.kind === 'map') allRules(node.values, out);
  return out;
}

const L = (name: string, port: number, extra: object = {}) => ({ name, protocol: 'mqtt', port, ...extra });
/** Specs that break one rule each (and are otherwise structurally valid). */
const INVALID: Record<string, unknown> = {
  evenCore: { core: { replicas: 4 } },
  bothEtcd: { etcd: { managed: {}, external: { endpoints: ['http://e:2379'] } } },
  minOverMax: { regions: [{ name: 'eu', autoscaling: { minReplicas: 5, maxReplicas: 3 } }] },
  replicasAndAutoscaling: { regions: [{ name: 'eu', replicas: 2, autoscaling: { maxReplicas: 3 } }] },
  badRegionName: { regions: [{ name: 'EU_1' }] },
  reservedRegion: { regions: [{ name: 'core' }] },
  dupRegion: { regions: [{ name: 'eu' }, { name: 'eu' }] },
  regionApiCollision: { regions: [{ name: 'eu' }, { name: 'eu-api' }] },
  geoBoth: { regions: [{ name: 'eu', dns: { geo: { continent: 'EU', country: 'DE' } } }] },
  reservedPort: { listeners: [L('a', 2379)] },
  reservedListenerName: { listeners: [L('http', 1)] },
  dupListenerName: { listeners: [L('a', 1), L('a', 2)] },
  dupListenerPort: { listeners: [L('a', 1), L('b', 1)] },
  tlsNone: { tls: {} },
  tlsListenerWithoutTls: { listeners: [L('s', 8883, { tls: true })] },
  routingWithoutGlobal: { dns: { provider: 'ExternalDNS', routing: 'Latency' }, regions: [{ name: 'eu', dns: { hostname: 'eu.example.com' } }] },
  noHostname: { dns: { provider: 'ExternalDNS', routing: 'None' } },
  geoMissing: { dns: { provider: 'ExternalDNS', globalHostname: 'm.example.com', routing: 'Geolocation' }, regions: [{ name: 'eu' }] },
};
/** Valid specs on the edges of the rules. */
const EDGES: Record<string, unknown> = {
  minEqualsMax: { regions: [{ name: 'eu', autoscaling: { minReplicas: 3, maxReplicas: 3 } }] },
  oneCore: { core: { replicas: 1 } },
  portNextToReserved: { listeners: [L('a', 2378), L('b', 18084)] },
  regionNameDigits: { regions: [{ name: '1a' }, { name: 'a-1' }, { name: 'cores' }] },
  geoCountry: { dns: { provider: 'ExternalDNS', globalHostname: 'm.example.com', routing: 'Geolocation' }, regions: [{ name: 'eu', dns: { geo: { country: 'DE' } } }] },
  tlsListenerWithTls: { tls: { secretName: 's' }, listeners: [{ name: 'q', protocol: 'mqtt', port: 8883, tls: true }] },
};
const BAD_NAMES = ['x'.repeat(41), '9lives'];

test('every CEL rule agrees with its TypeScript twin and is seen passing and failing', () => {
  const seen = new Map<string, { pass: number; fail: number }>();
  const note = (r: Rule, ok: boolean) => {
    const s = seen.get(r.cel) ?? { pass: 0, fail: 0 };
    ok ? s.pass++ : s.fail++;
    seen.set(r.cel, s);
  };
  const specs: [string, unknown][] = [...Object.entries(SAMPLE_SPECS).map(([k, v]) => [k, v.spec] as [string, unknown]), ...Object.entries(EDGES), ...Object.entries(INVALID)];
  for (const [name, spec] of specs) {
    const defaulted = applyDefaults(specSchema.node, spec);
    for (const site of sites(specSchema.node, defaulted, 'spec')) {
      let cel: unknown;
      try {
        cel = evaluate(site.rule.cel, { self: toCel(site.self) });
      } catch (e) {
        assert.fail(`${name} ${site.path}: CEL rule ${site.rule.cel} does not evaluate: ${(e as Error).message}`);
      }
      assert.equal(cel, site.rule.check(site.self), `${name} ${site.path}: CEL ${site.rule.cel} says ${cel}, TypeScript says ${!cel}`);
      note(site.rule, cel === true);
    }
  }
  const roots = [
    ...Object.values(SAMPLE_SPECS),
    ...[...BAD_NAMES, 'a'.repeat(40), 'a'].map((n) => ({ ...SAMPLE_SPECS.minimal!, metadata: { name: n } })),
    // <name>-<region>-api must fit in 63 characters: 40 + 18 passes, 40 + 19 fails
    ...[18, 19].map((n) => ({ ...SAMPLE_SPECS.minimal!, metadata: { name: 'a'.repeat(40) }, spec: { regions: [{ name: 'r'.repeat(n) }] } })),
  ];
  for (const obj of roots) {
    for (const r of ROOT_RULES) {
      const cel = evaluate(r.cel, { self: toCel(obj) });
      assert.equal(cel, r.check(obj), `${obj.metadata.name}: ${r.cel}`);
      note(r, cel === true);
    }
  }
  for (const r of [...allRules(specSchema.node), ...ROOT_RULES]) {
    const s = seen.get(r.cel);
    assert.ok(s && s.pass > 0 && s.fail > 0, `rule ${r.cel} was not seen both passing and failing: ${JSON.stringify(s)}`);
  }
});
