/**
 * A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver (client-certificate
 * authentication, RBAC, service-account tokens), kube-controller-manager, kube-scheduler and kwok,
 * which plays the kubelet of fake Nodes (it marks them Ready, renews their Leases and makes the
 * Pods scheduled on them Running and Ready; no container ever runs). The binaries, etcd 3.6
 * included, are the ones scripts/k8s-bins.sh builds (`make k8s-bins`): Debian's etcd 3.4.23 starts
 * with this API server but lacks RequestWatchProgress, so the clients' watch-list requests fail
 * and retry forever (kwok then misses Pod changes for tens of seconds).
 *
 * Every component has its own client certificate (its identity, as in a kubeadm cluster) and its
 * log in the temp directory; every port is chosen free on 127.0.0.1. Start once per test file:
 * it takes 10–30 s on a shared 2-core machine.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './etcd-cluster.js';
import { KubePki, kubeconfigYaml, type IssuedCert } from './kube-pki.js';

export interface FakeNode { name: string; region: string; zone: string }

export interface ControlPlaneOptions {
  /** region → zones; one fake Node per zone (labels topology.kubernetes.io/region and /zone). */
  regions: Record<string, string[]>;
  /** Milliseconds to wait for the API server's /readyz (the first start on a busy machine is slow). */
  readyTimeoutMs?: number;
  /**
   * Groups whose writes (create, update, patch, delete) the API server records in its audit log,
   * with their request bodies (`auditWrites()`), e.g. `system:serviceaccounts:petrel-system`: the
   * server's own record of what a client wrote and when, no-op patches included (those leave
   * resourceVersion unchanged).
   */
  auditWritesOf?: string[];
}

/** One audit event (level Request) as the API server logged it. */
export interface AuditEvent {
  verb: string;
  requestObject?: any;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

export interface ApiResponse { status: number; body: any }

export interface KubectlResult { code: number; out: string; err: string }

export interface KubeControlPlane {
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** kubeconfig of a cluster admin (group system:masters). */
  readonly adminKubeconfig: string;
  /** Directory holding kube-apiserver, kubectl, kwok, … */
  readonly binDir: string;
  readonly nodes: FakeNode[];
  /** Milliseconds from the first process started to every Node Ready. */
  readonly startupMs: number;
  /** One request as the admin; JSON in and out unless `contentType` says otherwise. */
  request(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /** The built kubectl (same version as the server), as the admin unless `kubeconfig` is given. */
  kubectl(args: string[], opts?: { kubeconfig?: string; input?: string }): Promise<KubectlResult>;
  /** Writes a kubeconfig that authenticates with `token`; returns its path. */
  writeTokenKubeconfig(name: string, token: string): string;
  /** The last lines of a component's log, for assertion messages. */
  logTail(component: string, lines?: number): string;
  /** The writes recorded so far (empty unless `auditWritesOf` was given). */
  auditWrites(): AuditEvent[];
  stop(): Promise<void>;
}

const SERVICE_CIDR = '10.96.0.0/16';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('kube-control-plane: no package.json above ' + fileURLToPath(import.meta.url));
}

/**
 * The directory scripts/k8s-bins.sh built. `--check` never builds (that takes many minutes, longer
 * than a test's timeout): it names the command to run when the cache is missing.
 */
export function k8sBinDir(): string {
  try {
    const out = execFileSync('bash', [path.join(repoRoot(), 'scripts', 'k8s-bins.sh'), '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split('\n').pop()!;
  } catch (e) {
    const err = (e as { stderr?: string }).stderr ?? String(e);
    throw new Error(`the Kubernetes binaries are not built: run \`make k8s-bins\` (bash scripts/k8s-bins.sh) first\n${err}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startKubeControlPlane(opts: ControlPlaneOptions): Promise<KubeControlPlane> {
  const started = Date.now();
  const binDir = k8sBinDir();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-kube-'));
  const procs = new Map<string, ChildProcess>();
  let agent: Agent | undefined;
  const logFile = (name: string): string => path.join(dir, `${name}.log`);

  // a test process that dies without stop() (a crash, the runner's timeout) must not leave an API server running
  const forget = killOnExit(() => [...procs.values()], () => rmSync(dir, { recursive: true, force: true }));

  const run = (name: string, bin: string, args: string[]): ChildProcess => {
    const fd = openSync(logFile(name), 'a');
    const p = spawn(path.join(binDir, bin), args, { stdio: ['ignore', fd, fd], cwd: dir });
    closeSync(fd);
    procs.set(name, p);
    return p;
  };

  const logTail = (component: string, lines = 30): string => {
    try {
      return readFileSync(logFile(component), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };

  const stop = async (): Promise<void> => {
    forget();
    // kwok and the controllers first, so nothing writes to the API server while it stops
    for (const name of ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
      const p = procs.get(name);
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    agent?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = new KubePki(dir);
    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    const serving = pki.server('kube-apiserver', { ips: ['127.0.0.1', '10.96.0.1'], dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] });
    const writeKubeconfig = (name: string, user: IssuedCert | { token: string }): string => {
      const file = path.join(dir, `${name}.kubeconfig`);
      writeFileSync(file, kubeconfigYaml(server, pki.caPem(), user), { mode: 0o600 });
      return file;
    };
    const admin = pki.client('admin', 'petrel-test-admin', ['system:masters']);
    const adminKubeconfig = writeKubeconfig('admin', admin);

    const etcdURL = await startEtcd(run, dir, logTail);
    const auditLog = path.join(dir, 'audit.log');
    const audit: string[] = [];
    if (opts.auditWritesOf?.length) {
      const policy = path.join(dir, 'audit-policy.yaml');
      writeFileSync(policy, JSON.stringify({
        apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'],
        rules: [
          { level: 'Request', userGroups: opts.auditWritesOf, verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'] },
          { level: 'None' },
        ],
      }));
      // blocking mode: an event is in the file before the response is sent, so a test reads it at once
      audit.push(`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json', '--audit-log-mode=blocking');
    }
    const apiserver = run('kube-apiserver', 'kube-apiserver', [
      `--etcd-servers=${etcdURL}`,
      '--bind-address=127.0.0.1', `--secure-port=${port}`, '--advertise-address=127.0.0.1',
      // the built-in `kubernetes` Service would get 127.0.0.1 as its endpoint, which is refused
      '--endpoint-reconciler-type=none',
      `--cert-dir=${dir}`, `--tls-cert-file=${serving.crt}`, `--tls-private-key-file=${serving.key}`,
      `--client-ca-file=${pki.caCrt}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--profiling=false', '--v=1', ...audit,
    ]);

    agent = new Agent({ ca: pki.caPem(), cert: readFileSync(admin.crt), key: readFileSync(admin.key), keepAlive: true, maxSockets: 8 });
    const request = (method: string, urlPath: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> =>
      new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
        const req = httpsRequest(`${server}${urlPath}`, {
          method, agent, timeout: 30_000,
          headers: { accept: 'application/json', ...(data !== undefined ? { 'content-type': contentType } : {}) },
        }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try { parsed = JSON.parse(text); } catch { /* /readyz answers plain text */ }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
        req.on('error', reject);
        req.end(data);
      });

    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited with code ${apiserver.exitCode}:\n${logTail('kube-apiserver')}`);
      const r = await request('GET', '/readyz').catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after ${opts.readyTimeoutMs ?? 120_000} ms:\n${logTail('kube-apiserver')}`);
      await sleep(250);
    }

    const kcm = writeKubeconfig('kube-controller-manager', pki.client('kube-controller-manager', 'system:kube-controller-manager'));
    run('kube-controller-manager', 'kube-controller-manager', [
      `--kubeconfig=${kcm}`, '--leader-elect=false', '--secure-port=0',
      // each controller acts as its own service account, so its RBAC is the real one too
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.caCrt}`,
      `--cluster-signing-cert-file=${pki.caCrt}`, `--cluster-signing-key-file=${pki.caKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`, '--v=1',
    ]);
    const sched = writeKubeconfig('kube-scheduler', pki.client('kube-scheduler', 'system:kube-scheduler'));
    run('kube-scheduler', 'kube-scheduler', [`--kubeconfig=${sched}`, '--leader-elect=false', '--secure-port=0', '--v=1']);

    // kwok acts for every kubelet at once, so it gets the admin group rather than one node identity
    const kwokKubeconfig = writeKubeconfig('kwok', pki.client('kwok', 'kwok', ['system:masters']));
    run('kwok', 'kwok', [
      `--kubeconfig=${kwokKubeconfig}`, `--config=${path.join(binDir, 'kwok-stages.yaml')}`,
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-lease-duration-seconds=40',
      // the Nodes' InternalIP: nothing dials it, and if something did it would stay on loopback
      '--node-ip=127.0.0.1',
    ]);

    const nodes: FakeNode[] = [];
    for (const [region, zones] of Object.entries(opts.regions)) {
      for (const zone of zones) nodes.push({ name: `kwok-${zone}`, region, zone });
    }
    for (const n of nodes) {
      const r = await request('POST', '/api/v1/nodes', {
        apiVersion: 'v1', kind: 'Node',
        metadata: {
          name: n.name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok',
            'topology.kubernetes.io/region': n.region, 'topology.kubernetes.io/zone': n.zone,
          },
        },
      });
      if (r.status !== 201) throw new Error(`creating Node ${n.name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
    const readyBy = Date.now() + 60_000;
    for (;;) {
      for (const [name, p] of procs) if (p.exitCode !== null) throw new Error(`${name} exited with code ${p.exitCode}:\n${logTail(name)}`);
      const list = await request('GET', '/api/v1/nodes');
      const ready = (list.body.items ?? []).filter((n: any) => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      // the controller manager is up once the default namespace has its ServiceAccount
      const sa = await request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
      if (ready.length === nodes.length && sa.status === 200) break;
      if (Date.now() > readyBy) {
        throw new Error(`${ready.length}/${nodes.length} Nodes Ready, default ServiceAccount: HTTP ${sa.status}\n--- kwok:\n${logTail('kwok')}\n--- kube-controller-manager:\n${logTail('kube-controller-manager')}`);
      }
      await sleep(250);
    }

    const kubectl = (args: string[], o: { kubeconfig?: string; input?: string } = {}): Promise<KubectlResult> =>
      new Promise((resolve) => {
        const child = execFile(path.join(binDir, 'kubectl'), [`--kubeconfig=${o.kubeconfig ?? adminKubeconfig}`, ...args],
          { encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: dir, KUBECONFIG: o.kubeconfig ?? adminKubeconfig } },
          (e, out, err) => resolve({ code: e ? (typeof (e as any).code === 'number' ? (e as any).code : 1) : 0, out, err }));
        if (o.input !== undefined) child.stdin!.end(o.input);
      });

    return {
      dir, server, adminKubeconfig, binDir, nodes,
      startupMs: Date.now() - started,
      request, kubectl, logTail, stop,
      auditWrites: () => (existsSync(auditLog) ? readFileSync(auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent) : []),
      writeTokenKubeconfig: (name, token) => writeKubeconfig(name, { token }),
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/**
 * Kills `children()` with SIGKILL when this process exits or receives SIGTERM/SIGINT (node --test
 * ends a file that overran its timeout with SIGTERM, which skips 'exit' handlers); the signal is
 * then raised again so the process still ends as it would have. `cleanup` (synchronous) runs after
 * the kill. Returns the function that forgets all this (for an orderly stop).
 */
export function killOnExit(children: () => ChildProcess[], cleanup?: () => void): () => void {
  const kill = (): void => {
    for (const p of children()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    cleanup?.();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    kill();
    forget();
    process.kill(process.pid, sig);
  };
  const forget = (): void => {
    process.removeListener('exit', kill);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  };
  process.once('exit', kill);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return forget;
}

/** One etcd member on free loopback ports; resolves with its client URL once it reports healthy. */
async function startEtcd(run: (name: string, bin: string, args: string[]) => ChildProcess, dir: string, logTail: (c: string) => string): Promise<string> {
  const client = `http://127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const p = run('etcd', 'etcd', [
    '--name=kube', `--data-dir=${path.join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`, `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=kube=${peer}`,
    // throw-away data: no fsync keeps a busy shared disk out of the API server's latency
    '--unsafe-no-fsync', '--log-level=warn',
  ]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`etcd exited with code ${p.exitCode}:\n${logTail('etcd')}`);
    const health = await fetch(`${client}/health`).then((r) => r.json() as Promise<{ health?: string }>).catch(() => undefined);
    if (health?.health === 'true') return client;
    if (Date.now() > deadline) throw new Error(`etcd not healthy after 30 s:\n${logTail('etcd')}`);
    await sleep(100);
  }
}
