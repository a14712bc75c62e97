/**
 * Shared set-up for the operator tests on a REAL control plane (test/support/kube-control-plane.ts):
 * the chart installed with the real helm, a token for the chart's ServiceAccount from the
 * TokenRequest API, and the operator process run with the chart's environment and that token —
 * so every request it makes passes the chart's RBAC or is refused by the real authorizer.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/etcd-cluster.js';
import { helmPath } from '../../support/k8s-binaries.js';
import { killOnExit, type KubeControlPlane } from '../../support/kube-control-plane.js';
import { repoRoot, waitFor } from '../operator/harness.js';

export { condition, loadExample, repoRoot, sleep, waitFor } from '../operator/harness.js';

export const MQC_PATH = '/apis/mqtt.petrel.dev/v1alpha1';
export const RELEASE = 'petrel-operator';
export const RELEASE_NS = 'petrel-system';

/** Runs the real helm against the control plane as the admin; rejects with its output on failure. */
export function helm(cp: KubeControlPlane, args: string[]): Promise<string> {
  const home = path.join(cp.dir, 'helm');
  mkdirSync(home, { recursive: true });
  return new Promise((resolve, reject) => {
    execFile(helmPath(), [...args, '--kubeconfig', cp.adminKubeconfig], {
      encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, HOME: home, HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') },
    }, (e, out, err) => (e ? reject(new Error(`helm ${args.join(' ')} failed:\n${err}${out}`)) : resolve(out)));
  });
}

/** `helm install` of charts/petrel-operator into petrel-system (the chart's defaults: all namespaces). */
export async function installChart(cp: KubeControlPlane, extra: string[] = []): Promise<void> {
  await helm(cp, ['install', RELEASE, path.join(repoRoot(), 'charts', 'petrel-operator'), '--namespace', RELEASE_NS, '--create-namespace', ...extra]);
}

/**
 * Installs external-dns's DNSEndpoint and cert-manager's Certificate CRDs as those projects publish
 * them (scripts/k8s-crds.sh reads them from their Go modules; `--check` never downloads) and waits
 * until both are Established.
 */
export async function installThirdPartyCrds(cp: KubeControlPlane): Promise<string[]> {
  let dir: string;
  try {
    dir = execFileSync('bash', [path.join(repoRoot(), 'scripts', 'k8s-crds.sh'), '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
  } catch (e) {
    throw new Error(`the external-dns and cert-manager CRDs are not fetched: run \`make k8s-bins\` (bash scripts/k8s-crds.sh) first\n${(e as { stderr?: string }).stderr ?? e}`);
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f));
  // server-side: cert-manager's CRD is too large for kubectl's last-applied annotation
  const r = await cp.kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', f])]);
  if (r.code !== 0) throw new Error(`kubectl apply of ${files.join(', ')}: ${r.err}`);
  const names = files.map((f) => path.basename(f, '.yaml'));
  for (const name of names) {
    await waitFor(async () => {
      const crd = await must(cp, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      return crd.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True');
    }, `CRD ${name} Established`, 30_000);
  }
  return names;
}

/** Fails the test with the API server's answer when a request did not get one of `ok`. */
export async function must(cp: KubeControlPlane, method: string, urlPath: string, body?: unknown, ok = [200, 201], contentType?: string): Promise<any> {
  const r = await cp.request(method, urlPath, body, contentType);
  if (!ok.includes(r.status)) throw new Error(`${method} ${urlPath}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A token for the chart's ServiceAccount from the TokenRequest API, in a kubeconfig of its own. */
export async function serviceAccountKubeconfig(cp: KubeControlPlane, sa: string): Promise<string> {
  const tr = await must(cp, 'POST', `/api/v1/namespaces/${RELEASE_NS}/serviceaccounts/${sa}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  return cp.writeTokenKubeconfig(`sa-${sa}`, tr.status.token);
}

export interface OperatorProcess {
  child: ChildProcess;
  metricsPort: number;
  output(): string;
  stop(): Promise<number | null>;
}

function operatorCommand(): string[] {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  return fromSource
    ? ['--import', 'tsx', path.join(repoRoot(), 'operator', 'src', 'main.ts')]
    : [path.join(repoRoot(), 'dist', 'operator', 'src', 'main.js')];
}

/**
 * Starts `petrel-operator` as the chart's Deployment would: its container's env with literal values
 * taken from the installed Deployment, the downward-API ones (POD_NAME, POD_NAMESPACE) filled in, and
 * METRICS_ADDR moved to a free loopback port.
 */
export async function startOperator(cp: KubeControlPlane, kubeconfig: string, identity = 'operator-under-test'): Promise<OperatorProcess> {
  const deploy = await must(cp, 'GET', `/apis/apps/v1/namespaces/${RELEASE_NS}/deployments/${RELEASE}`);
  const env: Record<string, string> = {};
  for (const e of deploy.spec.template.spec.containers[0].env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  const metricsPort = await freePort();
  Object.assign(env, { POD_NAME: identity, POD_NAMESPACE: RELEASE_NS, METRICS_ADDR: `127.0.0.1:${metricsPort}`, LOG_FORMAT: 'json' });
  const child = spawn(process.execPath, operatorCommand(), {
    cwd: repoRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: cp.dir, KUBECONFIG: kubeconfig, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const forget = killOnExit(() => [child]);
  return {
    child, metricsPort,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      forget();
      return code;
    },
  };
}

/** The sum of a metric's samples on the operator's /metrics (every label set), or undefined if absent. */
export async function metric(op: OperatorProcess, name: string): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`).then((r) => r.text());
  const samples = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return samples.length ? samples.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0) : undefined;
}

/** Objects of the cluster `name` in `ns` of one kind (label app.kubernetes.io/instance). */
export async function owned(cp: KubeControlPlane, apiPath: string, ns: string, plural: string, name: string): Promise<any[]> {
  const sel = encodeURIComponent(`app.kubernetes.io/instance=${name}`);
  const list = await must(cp, 'GET', `${apiPath}/namespaces/${ns}/${plural}?labelSelector=${sel}`);
  return list.items;
}
