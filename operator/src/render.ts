/**
 * `petrel-operator render -f cluster.yaml`: prints, as multi-document YAML, the objects the operator
 * would own for each MqttCluster in the file — the same builders the controller applies — so a
 * cluster can be reviewed (or fed to GitOps) without a Kubernetes API server.
 *
 *   petrel-operator render -f cluster.yaml [-n namespace] [--lb region=address ...] [--api-key-secret S]
 *
 * `-f -` reads stdin. `--lb` stands in for a region Service's load-balancer address, which the
 * DNSEndpoint records point at (without it they are left out, as the controller does until the
 * cloud assigns an address). Exit codes: 0 rendered, 2 invalid spec or usage, 1 unreadable file.
 * Owner references are left out: they need the uid the API server gives the MqttCluster.
 * The operator's API key Secret gets a fresh random secret on every run (the controller instead
 * reads back the one it created); `--api-key-secret` pins it, for output that does not change.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { API_VERSION, KIND, validate, withDefaults, type MqttCluster } from './api/types.js';
import { desiredObjects, generateApiKey, names, OPERATOR_API_KEY_NAME, type ObservedService } from './desired/index.js';

export interface RenderIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  readStdin: () => Promise<string>;
}

const USAGE = `usage: petrel-operator render -f FILE [-n NAMESPACE] [--lb REGION=ADDRESS ...] [--api-key-secret S]
  -f, --filename FILE     MqttCluster YAML (one or more documents; - for stdin)
  -n, --namespace NS      namespace for objects whose file gives none (default: default)
      --lb REGION=ADDR    pretend region REGION's Service got load-balancer address ADDR (IP or hostname)
      --api-key-secret S  secret of the operator's API key (default: random on every run)
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

const defaultIO: RenderIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin: () => readAll(process.stdin),
};

interface Args {
  file?: string;
  namespace?: string;
  lb: Map<string, string[]>;
  apiKeySecret?: string;
  help: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { lb: new Map(), help: false };
  const rest = argv[0] === 'render' ? argv.slice(1) : argv;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? rest[++i];
    switch (flag) {
      case '-h':
      case '--help':
        a.help = true;
        break;
      case '-f':
      case '--filename':
        a.file = value();
        if (a.file === undefined) return `${flag} needs a file name`;
        break;
      case '-n':
      case '--namespace':
        a.namespace = value();
        if (a.namespace === undefined) return `${flag} needs a namespace`;
        break;
      case '--api-key-secret':
        a.apiKeySecret = value();
        if (!a.apiKeySecret || /[\s:]/.test(a.apiKeySecret)) return `${flag} needs a secret without spaces or ':'`;
        break;
      case '--lb': {
        const v = value();
        const eq = v?.indexOf('=') ?? -1;
        if (!v || eq <= 0 || eq === v.length - 1) return '--lb needs REGION=ADDRESS';
        const region = v.slice(0, eq);
        a.lb.set(region, [...(a.lb.get(region) ?? []), v.slice(eq + 1)]);
        break;
      }
      default:
        return `unknown argument: ${arg}`;
    }
  }
  if (!a.help && !a.file) return 'missing -f FILE';
  return a;
}

function observedServices(cr: MqttCluster, lb: Map<string, string[]>): Record<string, ObservedService> {
  const resolved = withDefaults(cr);
  const out: Record<string, ObservedService> = {};
  for (const [region, addrs] of lb) {
    out[names.region(resolved, region)] = {
      status: { loadBalancer: { ingress: addrs.map((a) => (/^[0-9.]+$|:/.test(a) ? { ip: a } : { hostname: a })) } },
    };
  }
  return out;
}

/** Runs `render`; returns the exit code. */
export async function renderCommand(argv: string[], io: RenderIO = defaultIO): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.stderr.write(`error: ${args}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const file = args.file!;
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : readFileSync(file, 'utf8');
  } catch (e) {
    io.stderr.write(`error: cannot read ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
  } catch (e) {
    io.stderr.write(`error: ${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  if (!docs.length) {
    io.stderr.write(`error: ${file}: no MqttCluster in the file\n`);
    return 2;
  }
  const out: string[] = [];
  let failed = false;
  for (const [i, doc] of docs.entries()) {
    const where = docs.length > 1 ? `${file} (document ${i + 1})` : file;
    const obj = doc as Record<string, any>;
    if (typeof obj === 'object' && !Array.isArray(obj) && (obj.apiVersion !== API_VERSION || obj.kind !== KIND)) {
      io.stderr.write(`error: ${where}: expected apiVersion ${API_VERSION} kind ${KIND}, got ${obj.apiVersion} ${obj.kind}\n`);
      failed = true;
      continue;
    }
    const cr = (typeof obj === 'object' && obj !== null && !Array.isArray(obj) && obj.metadata && typeof obj.metadata === 'object'
      ? { ...obj, metadata: { ...obj.metadata, namespace: obj.metadata.namespace ?? args.namespace ?? 'default' } }
      : obj) as MqttCluster;
    const errors = validate(cr);
    if (errors.length) {
      io.stderr.write(`error: ${where}: invalid MqttCluster:\n${errors.map((e) => `  - ${e}\n`).join('')}`);
      failed = true;
      continue;
    }
    for (const region of args.lb.keys()) {
      if (!(cr.spec.regions ?? []).some((r) => r.name === region)) {
        io.stderr.write(`error: --lb ${region}: no such region in ${cr.metadata.name}\n`);
        failed = true;
      }
    }
    const apiKey = args.apiKeySecret ? { key: OPERATOR_API_KEY_NAME, secret: args.apiKeySecret } : generateApiKey();
    const objects = desiredObjects(cr, { services: observedServices(cr, args.lb), apiKey });
    out.push(
      `# MqttCluster ${cr.metadata.namespace}/${cr.metadata.name}: ${objects.length} objects (ownerReferences are added in the cluster)\n`,
    );
    for (const o of objects) out.push(`---\n${yaml.dump(o, { lineWidth: -1, noRefs: true })}`);
  }
  if (failed) return 2;
  io.stdout.write(out.join(''));
  return 0;
}
