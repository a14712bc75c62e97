/**
 * The REST client of `petrel ctl`: one request to the node's /api/v5, its JSON answer or a
 * CtlError saying what went wrong in one line — the API's `{code, message}`, or "cannot reach
 * URL: …" when nothing answered. The API key (PETREL_API_KEY="key:secret") goes as HTTP Basic.
 */

/** How long one request may take by default. */
const TIMEOUT_MS = 60_000;

/** Ends the command: `message` goes to stderr as one line, the process exits with `exit`. */
export class CtlError extends Error {
  constructor(message: string, readonly exit: 1 | 2) { super(message); }
}

/** A usage mistake (unknown command or option, a missing argument): exit 2. */
export const usageError = (message: string): CtlError => new CtlError(message, 2);

export class ApiClient {
  private readonly headers: Record<string, string>;

  constructor(readonly base: string, apiKey: string | undefined) {
    this.headers = { 'content-type': 'application/json' };
    if (apiKey) this.headers.authorization = 'Basic ' + Buffer.from(apiKey).toString('base64');
  }

  /**
   * The parsed JSON answer of a 2xx (undefined for 204), or of a status listed in `accept`
   * (GET /api/v5/status answers 503 with its body while draining). Anything else throws.
   * `timeoutMs` null waits as long as the node takes.
   */
  async request(method: string, path: string, body?: unknown, opts: { accept?: readonly number[]; timeoutMs?: number | null } = {}): Promise<{ status: number; body: unknown }> {
    const accept = opts.accept ?? [];
    const { res, data } = await this.fetch(method, path, body, opts.timeoutMs === undefined ? TIMEOUT_MS : opts.timeoutMs);
    const text = data.toString();
    if (res.ok || accept.includes(res.status)) {
      if (res.status === 204 || text === '') return { status: res.status, body: undefined };
      try {
        return { status: res.status, body: JSON.parse(text) };
      } catch {
        throw new CtlError(`not JSON from ${method} ${path}: ${text.slice(0, 200)}`, 1);
      }
    }
    throw new CtlError(errorLine(res.status, text), 1);
  }

  async get(path: string): Promise<unknown> { return (await this.request('GET', path)).body; }

  /** The body of a 2xx GET as bytes (a download); errors as request(). */
  async bytes(path: string): Promise<Buffer> {
    const { res, data } = await this.fetch('GET', path, undefined, TIMEOUT_MS);
    if (!res.ok) throw new CtlError(errorLine(res.status, data.toString()), 1);
    return data;
  }

  /** One request and its whole body; nothing answering (or not in time) is "cannot reach URL: …". */
  private async fetch(method: string, path: string, body: unknown, timeoutMs: number | null): Promise<{ res: Response; data: Buffer }> {
    try {
      const res = await fetch(this.base + path, {
        method, headers: this.headers, body: body === undefined ? undefined : JSON.stringify(body), signal: timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs),
      });
      return { res, data: Buffer.from(await res.arrayBuffer()) };
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new CtlError(`cannot reach ${this.base}: no answer to ${method} ${path} within ${timeoutMs! / 1000} s`, 1);
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new CtlError(`cannot reach ${this.base}: ${cause ?? (err as Error).message}`, 1);
    }
  }
}

/** The API's error as `CODE: message`; a body that is not one, with the HTTP status. */
function errorLine(status: number, text: string): string {
  try {
    const e = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return `${e.code}: ${String(e.message ?? '')}`;
  } catch { /* not JSON: shown as text below */ }
  return `HTTP ${status}: ${text.replace(/\s+/g, ' ').trim().slice(0, 200)}`;
}

/** One path segment, percent-encoded ('/' too: a topic or a CIDR in a path). */
export const seg = (s: string): string => encodeURIComponent(s);
