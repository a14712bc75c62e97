#!/usr/bin/env node
/**
 * `petrel-operator` — the Kubernetes operator process for MqttCluster resources.
 *
 *   petrel-operator [run] [flags]         run the controller (default)
 *   petrel-operator render -f FILE        print the objects it would own (no cluster needed)
 *
 * Flags override environment variables (defaults in brackets):
 *   --namespace NS[,NS]    WATCH_NAMESPACE      namespaces to watch; empty = all   [all]
 *   --metrics-addr H:P     METRICS_ADDR         /metrics, /healthz, /readyz        [0.0.0.0:8080]
 *   --leader-elect BOOL    LEADER_ELECT         hold a Lease before reconciling    [true]
 *   --lease-namespace NS   POD_NAMESPACE        namespace of the Lease             [default]
 *   --lease-name NAME      LEASE_NAME                                              [petrel-operator-leader]
 *   --identity ID          POD_NAME             leader identity, Event instance    [hostname-pid]
 *   --workers N            WORKERS              concurrent reconciles              [2]
 *   --etcd-endpoints URLS  PETREL_ETCD_ENDPOINTS etcd override for core scaling (out-of-cluster runs)
 *   --log-level LVL        LOG_LEVEL                                               [info]
 *   --log-format FMT       LOG_FORMAT           json | pretty | auto               [auto]
 * The API server comes from KUBECONFIG / ~/.kube/config, or the in-cluster service account.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { Controller, parseWatchNamespace } from './controller/controller.js';
import { startHttpServer } from './controller/http-server.js';
import { LeaderElector } from './controller/leader-election.js';
import { createOperatorLogger } from './controller/logger.js';
import { OperatorMetrics } from './controller/metrics.js';
import { renderCommand } from './render.js';

export interface RunOptions {
  namespaces: string[] | 'all';
  metricsHost: string;
  metricsPort: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  workers: number;
  etcdEndpoints?: string[];
  logLevel: string;
  logFormat: string;
}

const FLAGS: Record<string, string> = {
  '--namespace': 'WATCH_NAMESPACE', '--metrics-addr': 'METRICS_ADDR', '--leader-elect': 'LEADER_ELECT',
  '--lease-namespace': 'POD_NAMESPACE', '--lease-name': 'LEASE_NAME', '--identity': 'POD_NAME', '--workers': 'WORKERS',
  '--etcd-endpoints': 'PETREL_ETCD_ENDPOINTS', '--log-level': 'LOG_LEVEL', '--log-format': 'LOG_FORMAT',
};

/** Flags + environment → options; throws with a usage message on a bad value. */
export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv): RunOptions {
  const v: Record<string, string | undefined> = {};
  for (const name of Object.values(FLAGS)) v[name] = env[name];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = FLAGS[flag];
    if (!key) throw new Error(`unknown argument: ${arg}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    v[key] = value;
  }
  const addr = v.METRICS_ADDR ?? '0.0.0.0:8080';
  const colon = addr.lastIndexOf(':');
  const metricsPort = Number(addr.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) throw new Error(`METRICS_ADDR: expected host:port, got "${addr}"`);
  const le = (v.LEADER_ELECT ?? 'true').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(le)) throw new Error(`LEADER_ELECT: expected true or false, got "${v.LEADER_ELECT}"`);
  const workers = Number(v.WORKERS ?? '2');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error(`WORKERS: expected 1..64, got "${v.WORKERS}"`);
  const format = v.LOG_FORMAT ?? 'auto';
  if (!['json', 'pretty', 'auto'].includes(format)) throw new Error(`LOG_FORMAT: expected json, pretty or auto, got "${format}"`);
  const etcd = (v.PETREL_ETCD_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    namespaces: parseWatchNamespace(v.WATCH_NAMESPACE),
    metricsHost: addr.slice(0, colon) || '0.0.0.0',
    metricsPort,
    leaderElect: le === 'true' || le === '1',
    leaseNamespace: v.POD_NAMESPACE || 'default',
    leaseName: v.LEASE_NAME || 'petrel-operator-leader',
    identity: v.POD_NAME || `${os.hostname()}-${process.pid}`,
    workers,
    etcdEndpoints: etcd.length ? etcd : undefined,
    logLevel: v.LOG_LEVEL || 'info',
    logFormat: format,
  };
}

export async function runOperator(o: RunOptions, kc: KubeConfig): Promise<{ stop: () => Promise<void>; port: number; controller: Controller }> {
  const log = createOperatorLogger(o.logLevel, o.logFormat);
  const metrics = new OperatorMetrics(true);
  const controller = new Controller({
    kubeConfig: kc, namespaces: o.namespaces, logger: log, metrics, identity: o.identity, workers: o.workers,
    etcdEndpoints: o.etcdEndpoints ? () => o.etcdEndpoints! : undefined,
  });
  let elector: LeaderElector | undefined;
  let failed = false;
  const http = await startHttpServer(o.metricsHost, o.metricsPort, metrics, {
    healthy: () => !failed,
    ready: () => !failed && (elector ? true : controller.ready()),
  });
  log.info({ metrics: `${o.metricsHost}:${http.port}`, namespaces: o.namespaces, leaderElect: o.leaderElect, identity: o.identity }, 'petrel-operator starting');
  const startController = (): void => {
    controller.start().catch((e) => {
      failed = true;
      log.fatal({ err: String(e) }, 'controller failed to start');
      process.exitCode = 1;
      void stop();
    });
  };
  const stop = async (): Promise<void> => {
    await elector?.stop();
    metrics.isLeader.set(0);
    await controller.stop();
    await http.close();
  };
  if (o.leaderElect) {
    const client = controller.client;
    elector = new LeaderElector(client, { namespace: o.leaseNamespace, name: o.leaseName, identity: o.identity }, log, {
      onStartedLeading: () => { metrics.isLeader.set(1); startController(); },
      onStoppedLeading: () => {
        // A replica that lost the Lease may hold a stale view: exit and let Kubernetes restart it.
        metrics.isLeader.set(0);
        log.error('lost leadership; exiting');
        process.exitCode = 1;
        void stop().finally(() => process.exit(1));
      },
    });
    elector.start();
  } else {
    metrics.isLeader.set(1);
    startController();
  }
  return { stop, port: http.port, controller };
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'render') return renderCommand(argv);
  if (argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write('usage: petrel-operator [run] [flags] | petrel-operator render -f FILE\n(see docs/operator-controller.md for flags and environment)\n');
    return 0;
  }
  const args = argv[0] === 'run' ? argv.slice(1) : argv;
  let opts: RunOptions;
  try {
    opts = parseRunOptions(args, process.env);
  } catch (e) {
    process.stderr.write(`petrel-operator: ${(e as Error).message}\n`);
    return 2;
  }
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const op = await runOperator(opts, kc);
  await new Promise<void>((resolve) => {
    const onSignal = (): void => { void op.stop().finally(resolve); };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  return 0;
}

/** True when this file is the program (node dist/operator/src/main.js, or the npm bin symlink). */
function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    process.stderr.write(`petrel-operator: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  });
}
