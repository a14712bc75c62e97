/**
 * 25 — the operator's objects, for real: `petrel-operator render` of examples/three-regions.yaml
 * (with a fixed --api-key-secret) is run in-process, and its pods are started as processes on
 * loopback exactly as the objects say: the 3 core pods of the StatefulSet (init container running
 * the rendered etcd bootstrap script, then the etcd container, then the broker container) and ONE
 * pod per region Deployment. Black-box: MQTT.js clients and the REST API only.
 *
 * Loopback stands in for the pod network: every pod's IP is 127.0.0.1 and each container port a
 * pod declares gets a free port of its own. Nothing else is made up: the broker gets the ConfigMap's
 * petrel.yaml (at the path its volume mount gives), the env of its container (downward API values
 * filled in the way the kubelet does, `$(VAR)` expanded the way it does), the args of its
 * container and the image's ENTRYPOINT/ENV (broker/Dockerfile); etcd gets the config file the
 * rendered init script writes from the ConfigMap's etcd-members.json. DNS names resolve the way
 * the rendered Services make them resolve (a headless Service's pod names, a Service's port →
 * targetPort → the selected pods): an address no rendered object serves fails the test. Processes
 * run as the pod's runAsUser/runAsGroup with kubelet-like volume ownership, so the test needs root
 * (it skips, saying so, without).
 *
 * REWRITES below is the one list of what differs from the render; `ledger` records every value
 * rewritten, and the first test checks that the configs, env and args the processes got differ
 * from the rendered ones at exactly those places, each by one of those rules.
 *
 * v3 vs v5: the cluster behaves the same for both; the persistent session is a v5 one (clean start
 * 0, expiry 300 s) and publishes are QoS 1.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { renderCommand } from '../../operator/src/render.js';
import { resolve as resolveCluster } from '../../operator/src/desired/index.js';
import { parseApiKeySecret } from '../../operator/src/desired/api-key.js';
import { fetchNodes, joinTargets, NODES_TIMEOUT_MS } from '../../operator/src/controller/broker-api.js';
import { evaluateJoin } from '../../operator/src/controller/cluster-join.js';
import type { MqttCluster } from '../../operator/src/api/types.js';
import { collect, end, repoRoot, sleep, until, type Received } from '../support/broker.js';
import { api, clientInfo, getJson, type HasApi, type NodeRow } from '../support/api.js';
import { ETCD_BIN, requireEtcd } from '../support/etcd-cluster.js';

const EXAMPLE = join(repoRoot(), 'examples', 'three-regions.yaml');
/** What the operator's key secret is pinned to (`render --api-key-secret`). */
const API_KEY_SECRET = 'render-test-0123456789abcdef';
const TLS_FIXTURES = join(repoRoot(), 'test', 'fixtures', 'tls');
/** The pods the test runs: every core pod, one pod per region (the Deployments ask for 4, HPA ≥ 2, 2). */
const REPLICAS_PER_REGION = 1;

/**
 * Every way a value given to a process may differ from the render. Nothing else may differ.
 */
const REWRITES = {
  'pod-ip': 'status.podIP (downward API) → 127.0.0.1: loopback is every pod\'s network',
  'pod-name': 'metadata.name (downward API) → the name Kubernetes gives the pod: <statefulset>-<ordinal>, <deployment>-<template hash>-<suffix>',
  bind: '0.0.0.0:<containerPort> (all interfaces of the pod) → 127.0.0.1:<the free port standing in for that containerPort of that pod>',
  'pod-local': '127.0.0.1:<containerPort> (another container of the same pod) → 127.0.0.1:<the free port of that containerPort of this pod>',
  dns: '<pod>.<headless>.<ns>.svc:<port> and <service>.<ns>.svc:<port> → 127.0.0.1:<port of that pod / of a TCP proxy standing in for that Service>',
  mount: 'an absolute path under a container\'s volumeMount → the same path under a temp dir holding that volume',
  'listen-default': 'the etcd bootstrap script\'s listen URLs, which it defaults to http://0.0.0.0:2380 / :2379 when ETCD_LISTEN_PEER / ETCD_LISTEN_CLIENT are unset, are set (rule "bind" applied to the default)',
  binary: 'the etcd image\'s /usr/local/bin/etcd → Debian\'s etcd-server binary',
  'issued-secret': 'the Secret cert-manager issues for the rendered Certificate → test/fixtures/tls/server.{crt,key} as tls.crt / tls.key',
} as const;
type Rule = keyof typeof REWRITES;

interface Rewrite { pod: string; where: string; rule: Rule; from: string; to: string }
const ledger: Rewrite[] = [];
function rewrite(pod: string, where: string, rule: Rule, from: string, to: string): string {
  if (from !== to) ledger.push({ pod, where, rule, from, to });
  return to;
}

// ---------------------------------------------------------------------------------------------
// The render and its objects
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, any>;

async function render(): Promise<Obj[]> {
  let out = '';
  let err = '';
  const code = await renderCommand(['render', '-f', EXAMPLE, '--api-key-secret', API_KEY_SECRET], {
    stdout: { write: (s: string) => { out += s; } },
    stderr: { write: (s: string) => { err += s; } },
    readStdin: async () => '',
  });
  assert.equal(code, 0, `render failed: ${err}`);
  return (yaml.loadAll(out) as Obj[]).filter((o) => o !== null && o !== undefined);
}

const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `the render has no ${kind} ${name}`);
  return o;
};

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The image's ENTRYPOINT and ENV (broker/Dockerfile, final stage): how the container starts node. */
function brokerImage(): { entrypoint: string[]; env: Record<string, string> } {
  const lines = readFileSync(join(repoRoot(), 'broker', 'Dockerfile'), 'utf8').split('\n');
  const last = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).pop()!;
  const stage = lines.slice(last);
  const ep = stage.find((l) => l.startsWith('ENTRYPOINT '));
  assert.ok(ep, 'broker/Dockerfile has an ENTRYPOINT');
  const env: Record<string, string> = {};
  for (const l of stage.filter((x) => x.startsWith('ENV '))) {
    for (const [, k, v] of l.slice(4).matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
  }
  return { entrypoint: JSON.parse(ep.slice('ENTRYPOINT '.length)), env };
}

// ---------------------------------------------------------------------------------------------
// Pods on loopback
// ---------------------------------------------------------------------------------------------

const taken = new Set<number>();
/**
 * A free port below the kernel's ephemeral range (32768–60999 by default): the ports are picked
 * before the processes start, and one from the ephemeral range can meanwhile be the local port of
 * some outgoing connection (etcd's peers dial each other), which happened.
 */
async function podPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
}

interface Pod {
  name: string;
  labels: Record<string, string>;
  spec: Obj;
  /** StatefulSet pods: the headless Service whose DNS names they get. */
  subdomain?: string;
  ns: string;
  dir: string;
  /** containerPort → the free port standing in for it. */
  ports: Map<number, number>;
  procs: Array<{ name: string; proc: ChildProcess; output: () => string }>;
}

/** The rendered world: objects, pods, and the Services' stand-ins. */
class Loopback {
  readonly pods: Pod[] = [];
  private readonly proxies = new Map<string, net.Server>();
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly objs: Obj[], readonly root: string) {
    chmodSync(root, 0o755); // mkdtemp's 0700 would keep the pods' non-root users out
  }

  /** The pod's runAsUser / runAsGroup: the processes run as that user, as in the pod. */
  user(pod: Pod): { uid: number; gid: number } {
    const sc = pod.spec.securityContext ?? {};
    return { uid: sc.runAsUser ?? 0, gid: sc.runAsGroup ?? sc.runAsUser ?? 0 };
  }

  /** [kubelet] fsGroup: a persistent volume's files belong to the group, directories setgid and group-writable. */
  private fsGroupDir(pod: Pod, dir: string): void {
    const g = pod.spec.securityContext?.fsGroup;
    if (g === undefined) return;
    chownSync(dir, 0, g);
    chmodSync(dir, 0o2775);
  }

  async addPod(name: string, template: Obj, ns: string, subdomain?: string): Promise<Pod> {
    const ports = new Map<number, number>();
    for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
      for (const p of c.ports ?? []) ports.set(p.containerPort, await podPort());
    }
    const pod: Pod = { name, labels: template.metadata.labels, spec: template.spec, subdomain, ns, dir: join(this.root, name), ports, procs: [] };
    mkdirSync(pod.dir, { recursive: true });
    this.pods.push(pod);
    return pod;
  }

  /** The pod a DNS name `<pod>.<headless>.<ns>.svc` names, as the headless Service publishes it. */
  podByHost(host: string): Pod | undefined {
    return this.pods.find((p) => p.subdomain !== undefined && host === `${p.name}.${p.subdomain}.${p.ns}.svc`
      && selects(find(this.objs, 'Service', p.subdomain).spec.selector, p.labels));
  }

  /** `host:port` as the pod `from` reaches it, on loopback; throws for an address nothing serves. */
  async address(from: Pod, where: string, host: string, port: number, bindRule: Rule = 'bind'): Promise<string> {
    const local = (rule: Rule): string => {
      const p = from.ports.get(port);
      if (p === undefined) throw new Error(`${from.name} ${where}: ${host}:${port} is no containerPort of the pod (ports: ${[...from.ports.keys()].join(', ')})`);
      return rewrite(from.name, where, rule, `${host}:${port}`, `127.0.0.1:${p}`);
    };
    if (host === '0.0.0.0') return local(bindRule);
    if (host === '127.0.0.1') return local('pod-local');
    const pod = this.podByHost(host);
    if (pod) {
      const p = pod.ports.get(port);
      if (p === undefined) throw new Error(`${from.name} ${where}: ${pod.name} has no containerPort ${port}`);
      return rewrite(from.name, where, 'dns', `${host}:${port}`, `127.0.0.1:${p}`);
    }
    const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc$/.exec(host);
    const svc = m && this.objs.find((o) => o.kind === 'Service' && o.metadata.name === m[1] && o.metadata.namespace === m[2]);
    if (!svc) throw new Error(`${from.name} ${where}: ${host} is the name of no rendered Service or pod`);
    const sp = (svc.spec.ports as Obj[]).find((x) => x.port === port);
    if (!sp) throw new Error(`${from.name} ${where}: Service ${svc.metadata.name} has no port ${port}`);
    return rewrite(from.name, where, 'dns', `${host}:${port}`, `127.0.0.1:${await this.proxy(svc, sp)}`);
  }

  /** A TCP proxy standing in for a Service port: round robin over the selected pods' target ports. */
  private async proxy(svc: Obj, sp: Obj): Promise<number> {
    const key = `${svc.metadata.name}:${sp.port}`;
    const existing = this.proxies.get(key);
    if (existing) return (existing.address() as net.AddressInfo).port;
    const targets = (): number[] => this.pods.filter((p) => selects(svc.spec.selector, p.labels)).flatMap((p) => {
      const containerPort = typeof sp.targetPort === 'number' ? sp.targetPort
        : [...(p.spec.containers as Obj[])].flatMap((c) => c.ports ?? []).find((x: Obj) => x.name === sp.targetPort)?.containerPort;
      const hp = containerPort === undefined ? undefined : p.ports.get(containerPort);
      return hp === undefined ? [] : [hp];
    });
    if (targets().length === 0) throw new Error(`Service ${key}: targetPort ${sp.targetPort} is on none of the pods it selects`);
    let next = 0;
    const server = net.createServer((down) => {
      const t = targets();
      const up = net.connect(t[next++ % t.length]!, '127.0.0.1');
      for (const s of [down, up]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); s.on('error', () => { down.destroy(); up.destroy(); }); }
      down.pipe(up).pipe(down);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.proxies.set(key, server);
    return (server.address() as net.AddressInfo).port;
  }

  /** Every `host:port` in a string rewritten (URLs and comma lists included). */
  async addresses(from: Pod, where: string, s: string): Promise<string> {
    const re = /((?:\d{1,3}\.){3}\d{1,3}|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.svc):(\d+)/g;
    let out = '';
    let last = 0;
    for (const m of s.matchAll(re)) {
      out += s.slice(last, m.index) + await this.address(from, where, m[1]!, Number(m[2]));
      last = m.index! + m[0].length;
    }
    return out + s.slice(last);
  }

  /** Host directory of a pod's volume (created and filled on first use). */
  volumeDir(pod: Pod, volumeName: string): string {
    const dir = join(pod.dir, 'volumes', volumeName);
    if (existsSync(dir)) return dir;
    mkdirSync(dir, { recursive: true });
    const v = (pod.spec.volumes as Obj[]).find((x) => x.name === volumeName)
      ?? (volumeName === 'data' ? { name: 'data', persistentVolumeClaim: {} } : undefined);
    assert.ok(v, `${pod.name}: no volume ${volumeName}`);
    if (v.emptyDir) chmodSync(dir, 0o777);
    if (v.persistentVolumeClaim) this.fsGroupDir(pod, dir);
    if (v.secret) {
      const s = this.objs.find((o) => o.kind === 'Secret' && o.metadata.name === v.secret.secretName);
      if (s) {
        for (const [k, b64] of Object.entries(s.data as Record<string, string>)) writeFileSync(join(dir, k), Buffer.from(b64, 'base64'));
      } else {
        const cert = this.objs.find((o) => o.kind === 'Certificate' && o.spec.secretName === v.secret.secretName);
        assert.ok(cert, `${pod.name}: Secret ${v.secret.secretName} is neither rendered nor issued for a rendered Certificate`);
        for (const [k, f] of [['tls.crt', 'server.crt'], ['tls.key', 'server.key']] as const) {
          copyFileSync(join(TLS_FIXTURES, f), join(dir, k));
          rewrite(pod.name, `volume ${volumeName}/${k}`, 'issued-secret', `cert-manager's ${k}`, `test/fixtures/tls/${f}`);
        }
      }
      // [kubelet] secret files: defaultMode (0644 when unset), group fsGroup
      for (const f of readdirSync(dir)) {
        chmodSync(join(dir, f), v.secret.defaultMode ?? 0o644);
        chownSync(join(dir, f), 0, pod.spec.securityContext?.fsGroup ?? 0);
      }
    }
    // configMap volumes are filled by the caller (petrel.yaml differs per pod in its addresses)
    return dir;
  }

  /** A container's path on the host: through the volumeMount that holds it, or unchanged. Recorded. */
  path(pod: Pod, container: Obj, where: string, p: string): string {
    return rewrite(pod.name, where, 'mount', p, this.hostPath(pod, container, p));
  }

  /** The host path of a container path (not recorded; for the test's own checks). */
  hostPath(pod: Pod, container: Obj, p: string): string {
    const m = (container.volumeMounts as Obj[]).filter((x) => p === x.mountPath || p.startsWith(x.mountPath + '/'))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    if (!m) return p;
    const dir = this.volumeDir(pod, m.name);
    const v = (pod.spec.volumes as Obj[]).find((x) => x.name === m.name);
    // [kubelet] a subPath of a configMap or secret volume mounts one file; any other subPath is a directory it creates
    const base = join(dir, m.subPath ?? '');
    if (!(m.subPath && (v?.configMap || v?.secret)) && !existsSync(base)) {
      mkdirSync(base, { recursive: true });
      if (!v || v.persistentVolumeClaim) this.fsGroupDir(pod, base);
      if (v?.emptyDir) chmodSync(base, 0o777);
    }
    return base + p.slice(m.mountPath.length);
  }

  /** A container's env as the kubelet gives it: downward API filled in, $(VAR) expanded; then addresses and paths. */
  async env(pod: Pod, container: Obj): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const e of container.env as Obj[]) {
      const where = `${container.name} env ${e.name}`;
      let v: string;
      if (e.valueFrom) {
        const field = e.valueFrom.fieldRef?.fieldPath;
        if (field === 'metadata.name') v = rewrite(pod.name, where, 'pod-name', `fieldRef ${field}`, pod.name);
        else if (field === 'status.podIP') v = rewrite(pod.name, where, 'pod-ip', `fieldRef ${field}`, '127.0.0.1');
        else throw new Error(`${where}: valueFrom ${JSON.stringify(e.valueFrom)} not supported by the test`);
      } else {
        v = await this.addresses(pod, where, expand(String(e.value), env));
        if (v.startsWith('/')) v = this.path(pod, container, where, v);
      }
      env[e.name] = v;
    }
    return env;
  }

  async stop(): Promise<void> {
    const byKind = (etcd: boolean) => this.pods.flatMap((p) => p.procs.filter((x) => (x.name === 'etcd') === etcd));
    // brokers first (they deregister through etcd), then etcd
    for (const etcd of [false, true]) {
      await Promise.all(byKind(etcd).map(({ proc }) => new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      })));
    }
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.proxies.values()].map((s) => new Promise((r) => s.close(r))));
  }

  killNow(): void {
    for (const p of this.pods) for (const { proc } of p.procs) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

/** [kubelet] `$(VAR)` in an env value expands to a variable defined earlier in the list; `$$` is a literal `$`. */
function expand(value: string, earlier: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => (all === '$$' ? '$' : name in earlier ? earlier[name]! : all));
}

/** Leaf paths where two parsed documents differ (keys present in one only count too). */
function leafDiff(a: unknown, b: unknown, at = ''): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => leafDiff(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

/** The config tree with every string leaf's addresses and mounted paths rewritten. */
async function rewriteConfig(lb: Loopback, pod: Pod, container: Obj, tree: unknown, at: string): Promise<unknown> {
  if (typeof tree === 'string') {
    const v = await lb.addresses(pod, `petrel.yaml ${at}`, tree);
    return v.startsWith('/') ? lb.path(pod, container, `petrel.yaml ${at}`, v) : v;
  }
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return tree;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) out[k] = await rewriteConfig(lb, pod, container, v, at ? `${at}.${k}` : k);
  return out;
}

function spawnLogged(lb: Loopback, pod: Pod, name: string, cmd: string, args: string[], env: Record<string, string>): ChildProcess {
  let out = '';
  const proc = spawn(cmd, args, { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'], ...lb.user(pod) });
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  proc.on('exit', (code, sig) => { out += `--- exit code=${code} signal=${sig}\n`; });
  pod.procs.push({ name, proc, output: () => out });
  return proc;
}

/** Polls a rendered readiness probe (httpGet on a named port) until it answers 200. */
async function ready(pod: Pod, container: Obj, timeoutMs = 40_000): Promise<void> {
  const probe = container.readinessProbe.httpGet;
  const containerPort = (container.ports as Obj[]).find((p) => p.name === probe.port)!.containerPort;
  const url = `http://127.0.0.1:${pod.ports.get(containerPort)}${probe.path}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const proc = pod.procs.find((p) => p.name === container.name);
    if (proc && proc.proc.exitCode !== null) throw new Error(`${pod.name}/${container.name} exited:\n${proc.output().slice(-3000)}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${pod.name}/${container.name}: readiness ${probe.path} not 200 within ${timeoutMs} ms:\n${proc?.output().slice(-3000)}`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// What each process was given, kept for the "nothing else differs" checks
// ---------------------------------------------------------------------------------------------

interface Given {
  pod: Pod;
  container: string;
  renderedEnv: Obj[];
  env: Record<string, string>;
  /** The container's args (broker) or command (etcd, init): `where` names them `<container> <field>[i]`. */
  argsField: 'args' | 'command';
  renderedArgs: string[];
  args: string[];
  renderedConfig?: unknown;
  config?: unknown;
}
const given: Given[] = [];

async function startBroker(lb: Loopback, pod: Pod, configMap: Obj): Promise<void> {
  const c = (pod.spec.containers as Obj[]).find((x) => x.name === 'broker')!;
  const image = brokerImage();
  const env = await lb.env(pod, c);
  const args: string[] = [];
  for (const [i, a] of (c.args as string[]).entries()) args.push(a.startsWith('/') ? lb.path(pod, c, `broker args[${i}]`, a) : a);
  // the ConfigMap's keys, as the mounted file(s): petrel.yaml with this pod's addresses and paths
  const renderedConfig = yaml.load(configMap.data['petrel.yaml']);
  const config = await rewriteConfig(lb, pod, c, renderedConfig, '');
  const configFile = args[args.indexOf('--config') + 1]!;
  mkdirSync(dirname(configFile), { recursive: true });
  writeFileSync(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
  for (const m of c.volumeMounts as Obj[]) lb.volumeDir(pod, m.name);
  given.push({ pod, container: 'broker', renderedEnv: c.env, env, argsField: 'args', renderedArgs: c.args, args, renderedConfig, config });
  const [node, ...nodeArgs] = image.entrypoint;
  assert.equal(node, 'node');
  spawnLogged(lb, pod, 'broker', process.execPath, [...nodeArgs, ...args], { PATH: process.env.PATH!, ...image.env, ...env });
}

/** The core pod's etcd: the init container writes etcd's config file, then the etcd container runs. */
async function startEtcdMember(lb: Loopback, pod: Pod, configMap: Obj): Promise<void> {
  const init = (pod.spec.initContainers as Obj[]).find((x) => x.name === 'etcd-bootstrap')!;
  const env = await lb.env(pod, init);
  // the ConfigMap mounted whole at the init container's mount: etcd-members.json with loopback addresses
  const mount = (init.volumeMounts as Obj[]).find((m) => m.name === 'config')!;
  const cmDir = lb.volumeDir(pod, 'config');
  const members = JSON.parse(configMap.data['etcd-members.json']) as Array<{ name: string; peer: string; client: string }>;
  const rewritten = [];
  for (const m of members) {
    rewritten.push({ ...m, peer: await lb.addresses(pod, `etcd-members.json ${m.name}.peer`, m.peer), client: await lb.addresses(pod, `etcd-members.json ${m.name}.client`, m.client) });
  }
  writeFileSync(join(cmDir, 'etcd-members.json'), JSON.stringify(rewritten, null, 2));
  assert.equal(env.ETCD_MEMBERS_FILE, lb.hostPath(pod, init, `${mount.mountPath}/etcd-members.json`));
  for (const m of init.volumeMounts as Obj[]) mkdirSync(join(lb.volumeDir(pod, m.name), m.subPath ?? ''), { recursive: true });
  const etcdC = (pod.spec.containers as Obj[]).find((x) => x.name === 'etcd')!;
  const portOf = (n: string): number => (etcdC.ports as Obj[]).find((p) => p.name === n)!.containerPort;
  for (const [k, n] of [['ETCD_LISTEN_PEER', 'etcd-peer'], ['ETCD_LISTEN_CLIENT', 'etcd-client']] as const) {
    assert.equal(env[k], undefined, `${k} is not rendered (the script's default applies)`);
    env[k] = `http://${await lb.address(pod, `etcd-bootstrap env ${k}`, '0.0.0.0', portOf(n), 'listen-default')}`;
  }
  const script = init.command as string[];
  assert.deepEqual(script.slice(0, 2), ['node', '-e']);
  given.push({ pod, container: 'etcd-bootstrap', renderedEnv: init.env, env, argsField: 'command', renderedArgs: script, args: script });
  const r = spawnSync(process.execPath, script.slice(1), { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', timeout: 30_000, ...lb.user(pod) });
  assert.equal(r.status, 0, `${pod.name} etcd-bootstrap failed:\n${r.stdout}${r.stderr}`);

  const command = (etcdC.command as string[]).map((a, i) => {
    if (i === 0) return rewrite(pod.name, 'etcd command[0]', 'binary', a, ETCD_BIN);
    const eq = a.indexOf('=');
    return eq > 0 && a[eq + 1] === '/' ? a.slice(0, eq + 1) + lb.path(pod, etcdC, `etcd command[${i}]`, a.slice(eq + 1)) : a;
  });
  given.push({ pod, container: 'etcd', renderedEnv: etcdC.env ?? [], env: {}, argsField: 'command', renderedArgs: etcdC.command, args: command });
  spawnLogged(lb, pod, 'etcd', command[0]!, command.slice(1), { PATH: process.env.PATH! });
}

// ---------------------------------------------------------------------------------------------
// MQTT helpers
// ---------------------------------------------------------------------------------------------

const open: MqttClient[] = [];
afterEach(async () => { await end(...open.splice(0)); });

function mqttPort(pod: Pod): number {
  const c = (pod.spec.containers as Obj[]).find((x) => x.name === 'broker')!;
  return pod.ports.get((c.ports as Obj[]).find((p) => p.name === 'mqtt')!.containerPort)!;
}

function connectAck(pod: Pod, opts: IClientOptions = {}): Promise<{ c: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port: mqttPort(pod), reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5, ...opts });
    collect(c);
    open.push(c);
    const onErr = (err: Error): void => { c.end(true); reject(err); };
    c.once('connect', (connack) => { c.off('error', onErr); resolve({ c, connack }); });
    c.once('error', onErr);
  });
}
const connect = async (pod: Pod, opts: IClientOptions = {}): Promise<MqttClient> => (await connectAck(pod, opts)).c;

/** Publishes QoS 0 probes until every subscriber has one: their routes have reached the publisher's node. */
async function routed(pub: MqttClient, probeTopic: string, gots: Received[][], ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; ; i++) {
    if (gots.every((g) => g.some((m) => m.topic === probeTopic))) return;
    if (Date.now() > deadline) throw new Error(`no probe on ${probeTopic} reached every subscriber within ${ms} ms`);
    pub.publish(probeTopic, `probe-${i}`, { qos: 0 });
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------

const NEEDS_ROOT = process.getuid?.() === 0 ? false : 'runs the pods as their runAsUser and sets volume ownership: needs root';

describe('the rendered three-regions cluster, run on loopback', { skip: NEEDS_ROOT }, () => {
  let objs: Obj[];
  let lb: Loopback;
  let root: string;
  let cores: Pod[] = [];
  const region = new Map<string, Pod>();
  let operatorAuth: string;
  const onExit = (): void => { lb?.killNow(); if (root) rmSync(root, { recursive: true, force: true }); };

  before(async () => {
    requireEtcd();
    process.once('exit', onExit);
    objs = await render();
    root = mkdtempSync(join(tmpdir(), 'petrel-rendered-'));
    lb = new Loopback(objs, root);
    // The brokers run as the pods' runAsUser: the checkout must be readable by that user (a clone
    // under a 0700 directory, e.g. one made by mktemp -d, is not), else each would die with
    // "Cannot find module". Said here, once, with the way out.
    const sts0 = find(objs, 'StatefulSet', 'fleet-core');
    const asPod = lb.user({ spec: sts0.spec.template.spec } as unknown as Pod);
    const main = join(repoRoot(), 'dist', 'broker', 'src', 'main.js');
    const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(main)}, require('fs').constants.R_OK)`], { ...asPod, encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`${main} is not readable by uid ${asPod.uid} (the pods' runAsUser): put the checkout where that user can read it (every parent directory o+x)`);
    const configMap = find(objs, 'ConfigMap', 'fleet-config');

    const sts = find(objs, 'StatefulSet', 'fleet-core');
    for (let i = 0; i < sts.spec.replicas; i++) cores.push(await lb.addPod(`${sts.metadata.name}-${i}`, sts.spec.template, sts.metadata.namespace, sts.spec.serviceName));
    for (const d of objs.filter((o) => o.kind === 'Deployment')) {
      // Kubernetes names a Deployment's pod <deployment>-<pod-template-hash>-<5 characters>
      const hash = createHash('sha256').update(JSON.stringify(d.spec.template)).digest('hex').slice(0, 10);
      for (let i = 0; i < REPLICAS_PER_REGION; i++) {
        const pod = await lb.addPod(`${d.metadata.name}-${hash}-x${i}z${i}q`, d.spec.template, d.metadata.namespace);
        region.set(d.spec.template.metadata.labels['mqtt.petrel.dev/region'], pod);
      }
    }

    // Parallel pod management: every core pod's init container, then etcd; the brokers once etcd is ready
    for (const pod of cores) await startEtcdMember(lb, pod, configMap);
    await Promise.all(cores.map((pod) => ready(pod, (pod.spec.containers as Obj[]).find((c) => c.name === 'etcd')!)));
    for (const pod of [...cores, ...region.values()]) await startBroker(lb, pod, configMap);
    await Promise.all([...cores, ...region.values()].map((pod) => ready(pod, (pod.spec.containers as Obj[]).find((c) => c.name === 'broker')!)));

    const secret = find(objs, 'Secret', 'fleet-operator-api-key');
    operatorAuth = Buffer.from(secret.data['api-keys'], 'base64').toString('utf8').split('\n')[0]!;
  });

  after(async () => {
    await lb?.stop();
    process.removeListener('exit', onExit);
    if (process.env.PETREL_TEST_KEEP !== '1' && root) rmSync(root, { recursive: true, force: true });
  });

  const asApi = (pod: Pod, auth = operatorAuth): HasApi => {
    const c = (pod.spec.containers as Obj[]).find((x) => x.name === 'broker')!;
    return { apiPort: pod.ports.get((c.ports as Obj[]).find((p) => p.name === 'http')!.containerPort)!, apiAuth: auth };
  };
  const all = (): Pod[] => [...cores, ...region.values()];

  /** The cluster as the operator's ClusterJoined check sees it: every node lists all 6. */
  let joined: Promise<void> | undefined;
  const waitJoined = (): Promise<void> => (joined ??= (async () => {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const seen = await Promise.all(all().map(async (p) => {
        try { return (await getJson<NodeRow[]>(asApi(p), '/api/v5/nodes')).filter((r) => r.node_status === 'running').length; } catch { return -1; }
      }));
      if (seen.every((n) => n === all().length)) return;
      if (Date.now() > deadline) {
        const logs = all().map((p) => `--- ${p.name}\n${p.procs.find((x) => x.name === 'broker')?.output().slice(-1500)}`).join('\n');
        throw new Error(`nodes list ${seen.join(', ')} running members, not ${all().length} each\n${logs}`);
      }
      await sleep(250);
    }
  })());

  it('gives each process the rendered config, env and args, differing only by the listed rewrites', () => {
    assert.ok(ledger.length > 0);
    for (const r of ledger) assert.ok(r.rule in REWRITES, `rewrite rule ${r.rule}`);
    for (const g of given) {
      const mine = ledger.filter((r) => r.pod === g.pod.name);
      if (g.config !== undefined) {
        const changed = leafDiff(g.renderedConfig, g.config).sort();
        const listed = mine.filter((r) => r.where.startsWith('petrel.yaml ')).map((r) => r.where.slice('petrel.yaml '.length)).sort();
        assert.deepEqual(changed, listed, `${g.pod.name}: petrel.yaml differs from the render exactly where the ledger says`);
        for (const r of mine.filter((x) => x.where.startsWith('petrel.yaml '))) {
          assert.ok(['bind', 'mount', 'dns', 'pod-local'].includes(r.rule), `${g.pod.name} ${r.where}: ${r.rule} is an address or a path`);
        }
      }
      // every rendered env var is given (the etcd script's listen URLs are the one addition), none other
      const added = g.container === 'etcd-bootstrap' ? ['ETCD_LISTEN_CLIENT', 'ETCD_LISTEN_PEER'] : [];
      assert.deepEqual(Object.keys(g.env).sort(), [...g.renderedEnv.map((e) => e.name), ...added].sort(), `${g.pod.name}/${g.container} env names`);
      for (const e of g.renderedEnv) {
        const where = `${g.container} env ${e.name}`;
        const rules = mine.filter((r) => r.where === where);
        // unchanged: the rendered value, $(VAR)s expanded by the kubelet from the values given before it
        if (rules.length === 0) assert.equal(g.env[e.name], expand(e.value, g.env), `${g.pod.name} ${where} passed unchanged`);
      }
      g.renderedArgs.forEach((a, i) => {
        if (g.args[i] !== a) {
          assert.ok(mine.some((r) => r.where === `${g.container} ${g.argsField}[${i}]` && ['mount', 'binary'].includes(r.rule)),
            `${g.pod.name}/${g.container} ${g.argsField}[${i}]: ${a} → ${g.args[i]} is a listed path rewrite`);
        }
      });
      assert.equal(g.args.length, g.renderedArgs.length);
    }
    // every rewritten path is there: the volume holds what the config or env points at
    for (const r of ledger.filter((x) => x.rule === 'mount')) assert.ok(existsSync(r.to), `${r.pod} ${r.where}: ${r.from} → ${r.to} exists`);
    // in Kubernetes a core's link is dialled at the host of its node name (bind 0.0.0.0: see
    // cluster.link.advertise): that name must be the pod's own, on a Service port of the link
    for (const pod of cores) {
      const name = given.find((g) => g.pod === pod && g.container === 'broker')!.env.PETREL_NODE__NAME!;
      assert.equal(lb.podByHost(name.slice(name.indexOf('@') + 1)), pod, `${name}: its host is ${pod.name}'s DNS name`);
      const headless = find(objs, 'Service', pod.subdomain!);
      assert.ok((headless.spec.ports as Obj[]).some((p) => p.port === 5370), `${pod.subdomain} publishes the link port`);
    }
    // the user's part of petrel.yaml goes through unchanged
    const b = given.find((g) => g.container === 'broker')!;
    assert.deepEqual((b.config as Obj).mqtt, { max_packet_size: '1MB', session_expiry_interval: '2h' });
    assert.deepEqual((b.config as Obj).cluster.etcd, { prefix: '/petrel/iot/fleet' });
    const rules = [...new Set(ledger.map((r) => r.rule))].sort();
    const summary = ledger.map((r) => `  [${r.rule}] ${r.pod} ${r.where}: ${r.from} → ${r.to}`).join('\n');
    process.stderr.write(`# ${ledger.length} rewrites (${rules.join(', ')}):\n${summary}\n`);
  });

  it('starts the etcd members under the rendered names, in one cluster of 3', async (t) => {
    const configMap = find(objs, 'ConfigMap', 'fleet-config');
    const names = (JSON.parse(configMap.data['etcd-members.json']) as Array<{ name: string }>).map((m) => m.name);
    assert.deepEqual(names, ['fleet-core-0', 'fleet-core-1', 'fleet-core-2']);
    for (const pod of cores) {
      const conf = JSON.parse(readFileSync(lb.hostPath(pod, (pod.spec.containers as Obj[]).find((c) => c.name === 'etcd')!, '/var/run/etcd/etcd.conf.yml'), 'utf8'));
      assert.equal(conf.name, pod.name);
      // the first pod finds nobody ("new"); later ones may find a started member and join it ("existing")
      t.diagnostic(`${pod.name}: initial-cluster-state ${conf['initial-cluster-state']}`);
      assert.equal(conf['initial-cluster-token'], 'iot-fleet');
      // a member that found another one running takes the member list it reports (any order)
      assert.deepEqual(conf['initial-cluster'].split(',').map((e: string) => e.split('=')[0]).sort(), names);
    }
    const port = cores[0]!.ports.get(2379)!;
    const r = await fetch(`http://127.0.0.1:${port}/v3/cluster/member/list`, { method: 'POST', body: '{}' });
    const list = ((await r.json()) as { members: Array<{ name: string }> }).members.map((m) => m.name);
    assert.deepEqual(list.sort(), names);
  });

  it('every node lists all 6 with the rendered names, roles and regions (the operator\'s key from its Secret)', async () => {
    await waitJoined();
    const expected = all().map((p) => {
      const g = given.find((x) => x.pod === p && x.container === 'broker')!;
      return { node: g.env.PETREL_NODE__NAME, role: g.env.PETREL_NODE__ROLE, region: g.env.PETREL_NODE__REGION ?? '' };
    }).sort((a, b) => a.node.localeCompare(b.node));
    assert.deepEqual(expected.filter((e) => e.role === 'core').map((e) => e.node),
      cores.map((p) => `${p.name}@${p.name}.fleet-core-headless.iot.svc`));
    assert.deepEqual(expected.filter((e) => e.role === 'replica').map((e) => e.region).sort(), ['ap-southeast-1', 'eu-west-1', 'us-east-1']);
    for (const p of all()) {
      const rows = await getJson<NodeRow[]>(asApi(p), '/api/v5/nodes');
      const got = rows.map((r) => ({ node: r.node, role: r.role, region: r.region })).sort((a, b) => a.node.localeCompare(b.node));
      assert.deepEqual(got, expected, `GET /api/v5/nodes on ${p.name}`);
      assert.ok(rows.every((r) => r.node_status === 'running'), `all running on ${p.name}`);
    }
    // the key is what lets the operator in: a wrong secret is refused
    const r = await api(asApi(region.get('eu-west-1')!, 'petrel-operator:wrong'), '/api/v5/nodes');
    await r.body?.cancel();
    assert.equal(r.status, 401);
  });

  it('passes the operator\'s own ClusterJoined check: its client and key against the core and each region\'s API Service', async () => {
    await waitJoined();
    const cr = resolveCluster(yaml.load(readFileSync(EXAMPLE, 'utf8')) as MqttCluster);
    const key = parseApiKeySecret(find(objs, 'Secret', 'fleet-operator-api-key'));
    assert.ok(key, 'the rendered Secret parses as the operator\'s key');
    // the in-cluster URLs the operator asks (http://<svc>.<ns>.svc:18083), through the Service stand-ins
    const urls = new Map<string, string>();
    for (const t of joinTargets(cr)) {
      const u = new URL(t.url);
      urls.set(t.service, `http://${await lb.addresses(cores[0]!, `operator ${t.group}`, u.host)}`);
    }
    const targets = joinTargets(cr, (_ns, svc) => urls.get(svc));
    const views = await Promise.all(targets.map(async (target) => ({ target, answer: await fetchNodes(target, key, NODES_TIMEOUT_MS) })));
    const want = { core: cores.length, regions: Object.fromEntries([...region.keys()].map((r) => [r, REPLICAS_PER_REGION])) };
    const verdict = evaluateJoin(cr, want, views);
    assert.equal(verdict.joined, true, verdict.message);
    assert.deepEqual(verdict.joinedNodes, { core: 3, regions: { 'eu-west-1': 1, 'us-east-1': 1, 'ap-southeast-1': 1 } });
  });

  it('publishes QoS 1 in eu-west-1 and receives in ap-southeast-1 and on a core', async () => {
    await waitJoined();
    const ap = await connect(region.get('ap-southeast-1')!, { clientId: 'sub-ap' });
    const core = await connect(cores[1]!, { clientId: 'sub-core' });
    const apGot = collect(ap);
    const coreGot = collect(core);
    await ap.subscribeAsync('fleet/+/data', { qos: 1 });
    await core.subscribeAsync('fleet/+/data', { qos: 1 });
    const pub = await connect(region.get('eu-west-1')!, { clientId: 'pub-eu' });
    await routed(pub, 'fleet/probe/data', [apGot, coreGot]);
    for (let i = 0; i < 5; i++) await pub.publishAsync('fleet/eu/data', `m${i}`, { qos: 1 });
    const data = (g: Received[]): Received[] => g.filter((m) => m.topic === 'fleet/eu/data');
    await until(() => data(apGot).length >= 5 && data(coreGot).length >= 5, 10_000, '5 messages on both subscribers');
    await sleep(300);
    for (const g of [apGot, coreGot]) {
      assert.deepEqual(data(g).map((m) => m.payload), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.ok(data(g).every((m) => m.packet.qos === 1));
    }
  });

  it('moves a persistent session from the us-east-1 replica to the eu-west-1 replica with its queued messages', async () => {
    await waitJoined();
    const us = region.get('us-east-1')!;
    const eu = region.get('eu-west-1')!;
    const session = { clientId: 'roamer', clean: false, properties: { sessionExpiryInterval: 300 } };
    const x = await connect(us, session);
    const xGot = collect(x);
    await x.subscribeAsync('roam/#', { qos: 1 });
    const pub = await connect(region.get('ap-southeast-1')!, { clientId: 'pub-ap' });
    await routed(pub, 'roam/probe', [xGot]);
    await end(x);
    for (let i = 0; i < 5; i++) await pub.publishAsync('roam/data', `q${i}`, { qos: 1 });
    await until(async () => (await clientInfo(asApi(us), 'roamer'))?.mqueue_len === 5, 5000, '5 messages queued on us-east-1');
    const { c: y, connack } = await connectAck(eu, session);
    assert.equal(connack.sessionPresent, true, 'sessionPresent on eu-west-1');
    const got = collect(y);
    await until(() => got.filter((m) => m.topic === 'roam/data').length >= 5, 10_000, '5 queued messages after the move');
    await sleep(300);
    assert.deepEqual(got.filter((m) => m.topic === 'roam/data').map((m) => m.payload), ['q0', 'q1', 'q2', 'q3', 'q4']);
    assert.equal((await clientInfo(asApi(eu), 'roamer'))?.connected, true);
  });
});
