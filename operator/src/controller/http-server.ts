/**
 * The operator's HTTP endpoints: GET /metrics (Prometheus text), GET /healthz (200 while the
 * process is live: caches synced or still starting, no fatal error) and GET /readyz (200 once the
 * caches are synced and this replica is leader or waiting as a healthy standby).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorMetrics } from './metrics.js';

export interface HealthSource {
  healthy(): boolean;
  ready(): boolean;
}

export interface OperatorHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(host: string, port: number, metrics: OperatorMetrics, health: HealthSource): Promise<OperatorHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') { res.writeHead(405).end(); return; }
    if (path === '/metrics') {
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(text);
      }, (e) => { res.writeHead(500).end(String(e)); });
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? health.healthy() : health.ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok' : 'not ok');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
