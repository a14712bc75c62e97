/**
 * `petrel ctl`: a thin client of a running node's REST API (default http://127.0.0.1:18083,
 * or PETREL_API_URL / --api; API key from PETREL_API_KEY="key:secret").
 */
export async function runCtl(argv: string[]): Promise<number> {
  let api = process.env.PETREL_API_URL ?? 'http://127.0.0.1:18083';
  const args: string[] = [];
  let retain = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--api') api = argv[++i];
    else if (argv[i] === '--retain') retain = true;
    else args.push(argv[i]);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (process.env.PETREL_API_KEY) headers.authorization = 'Basic ' + Buffer.from(process.env.PETREL_API_KEY).toString('base64');
  const call = async (method: string, path: string, body?: unknown): Promise<number> => {
    let res: Response;
    try {
      res = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      console.error(`cannot reach ${api}: ${(err as Error).message}`);
      return 1;
    }
    const text = await res.text();
    if (text) console.log(text);
    return res.ok ? 0 : 1;
  };
  switch (args[0]) {
    case 'status': return call('GET', '/api/v5/status');
    case 'stats': return call('GET', '/api/v5/stats');
    case 'metrics': return call('GET', '/api/v5/metrics');
    case 'clients': return call('GET', '/api/v5/clients');
    case 'kick': if (!args[1]) break; return call('DELETE', `/api/v5/clients/${encodeURIComponent(args[1])}`);
    case 'publish': if (!args[1]) break; return call('POST', '/api/v5/publish', { topic: args[1], payload: args[2] ?? '', qos: Number(args[3] ?? 0), retain });
    case 'drain': return call('POST', '/api/v5/node/drain', {});
  }
  console.error('usage: petrel ctl status | stats | metrics | clients | kick CLIENTID | publish TOPIC PAYLOAD [QOS] [--retain] | drain  [--api URL]');
  return 2;
}
