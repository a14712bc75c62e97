/**
 * `petrel ctl`: a thin client of a running node's REST API (default http://127.0.0.1:18083,
 * or PETREL_API_URL / --api; API key from PETREL_API_KEY="key:secret"). Commands print the
 * API's JSON answer, except `cluster` (alias `nodes`), which prints a table unless `--json`.
 */
export const CTL_USAGE = 'usage: petrel ctl status | stats | metrics | clients | cluster [--json] | kick CLIENTID | publish TOPIC PAYLOAD [QOS] [--retain] | drain  [--api URL]';

export async function runCtl(argv: string[]): Promise<number> {
  let api = process.env.PETREL_API_URL ?? 'http://127.0.0.1:18083';
  const args: string[] = [];
  let retain = false;
  let raw = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--api') api = argv[++i];
    else if (argv[i] === '--retain') retain = true;
    else if (argv[i] === '--json') raw = true;
    else args.push(argv[i]);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (process.env.PETREL_API_KEY) headers.authorization = 'Basic ' + Buffer.from(process.env.PETREL_API_KEY).toString('base64');
  /** Prints the answer (through `show` when it is a 2xx JSON body); 0 on 2xx. */
  const call = async (method: string, path: string, body?: unknown, show?: (json: unknown) => string): Promise<number> => {
    let res: Response;
    try {
      res = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      console.error(`cannot reach ${api}: ${(err as Error).message}`);
      return 1;
    }
    const text = await res.text();
    if (res.ok && show !== undefined) {
      let json: unknown;
      try { json = JSON.parse(text); } catch { console.error(`not JSON from ${api}${path}: ${text.slice(0, 200)}`); return 1; }
      console.log(show(json));
      return 0;
    }
    if (text) console.log(text);
    return res.ok ? 0 : 1;
  };
  switch (args[0]) {
    case 'status': return call('GET', '/api/v5/status');
    case 'stats': return call('GET', '/api/v5/stats');
    case 'metrics': return call('GET', '/api/v5/metrics');
    case 'clients': return call('GET', '/api/v5/clients');
    case 'cluster': case 'nodes':
      return call('GET', '/api/v5/nodes', undefined, raw ? undefined : (j) => nodesTable(Array.isArray(j) ? j : []));
    case 'kick': if (!args[1]) break; return call('DELETE', `/api/v5/clients/${encodeURIComponent(args[1])}`);
    case 'publish': if (!args[1]) break; return call('POST', '/api/v5/publish', { topic: args[1], payload: args[2] ?? '', qos: Number(args[3] ?? 0), retain });
    case 'drain': return call('POST', '/api/v5/node/drain', {});
  }
  console.error(CTL_USAGE);
  return 2;
}

const COLUMNS = ['NAME', 'ROLE', 'REGION', 'STATUS', 'UPTIME', 'CONNECTIONS', 'LINK'] as const;

/** The rows of GET /api/v5/nodes as a table, columns padded to their widest cell; '-' for what a row lacks. */
export function nodesTable(rows: Array<Record<string, unknown>>): string {
  const cell = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : String(v));
  const lines: string[][] = [[...COLUMNS], ...rows.map((r) => [
    cell(r.node), cell(r.role), cell(r.region), cell(r.node_status),
    typeof r.uptime === 'number' ? formatUptime(r.uptime) : '-', cell(r.connections), cell(r.link_state),
  ])];
  const widths = COLUMNS.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/** Seconds as the two largest units: 42s, 5m12s, 3h07m, 2d04h. */
export function formatUptime(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h`;
  if (h > 0) return `${h}h${two(m)}m`;
  if (m > 0) return `${m}m${two(s % 60)}s`;
  return `${s}s`;
}
