/**
 * The dashboard's static files (dist/dashboard/, built by scripts/build-dashboard.mjs), served
 * by the API's HTTP server at `/`. The directory is read once at start into memory (about
 * 100 KB), so a request can only ever name a file that was listed there: no path from the URL
 * reaches the file system, which rules out traversal. Hashed names (`main-XXXX.js`) are
 * immutable for a year; index.html is `no-cache` so a new build is picked up at once. The .br
 * and .gz copies made at build time are sent to browsers that accept them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** dist/broker/src/api/ → dist/dashboard/ */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

interface File { type: string; cache: string; raw: Buffer; gz?: Buffer; br?: Buffer }

export class DashboardFiles {
  private readonly files = new Map<string, File>();

  constructor(dir: string = DEFAULT_DASHBOARD_DIR) {
    if (!existsSync(dir)) return;
    const names = new Set(readdirSync(dir));
    for (const name of names) {
      const type = TYPES[extname(name)];
      if (type === undefined) continue; // .gz and .br ride along with their file
      const file: File = {
        type,
        cache: name === 'index.html' ? 'no-cache' : /-[A-Z0-9]{8}\.\w+$/.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
        raw: readFileSync(join(dir, name)),
      };
      if (names.has(`${name}.gz`)) file.gz = readFileSync(join(dir, `${name}.gz`));
      if (names.has(`${name}.br`)) file.br = readFileSync(join(dir, `${name}.br`));
      this.files.set(`/${name}`, file);
    }
    const index = this.files.get('/index.html');
    if (index !== undefined) this.files.set('/', index);
  }

  /** Whether a build was found (GET / otherwise says how to make one). */
  get built(): boolean { return this.files.has('/'); }

  /** Answers GET/HEAD for a dashboard file; false when `path` names none (the caller answers 404). */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const f = this.files.get(path);
    if (f === undefined) return false;
    const accept = String(req.headers['accept-encoding'] ?? '');
    const [body, encoding] = f.br && /\bbr\b/.test(accept) ? [f.br, 'br'] : f.gz && /\bgzip\b/.test(accept) ? [f.gz, 'gzip'] : [f.raw, undefined];
    res.writeHead(200, {
      'content-type': f.type,
      'content-length': body.length,
      'cache-control': f.cache,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      ...(encoding ? { 'content-encoding': encoding } : {}),
      ...(path === '/' || path === '/index.html' ? { 'content-security-policy': CSP, 'x-frame-options': 'DENY' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

/** Own scripts and styles only (no CDN); the WebSocket page connects to ws: and wss: listeners on any port. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'";
