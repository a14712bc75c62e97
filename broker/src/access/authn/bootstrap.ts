/**
 * EMQX's user files for the built-in database, read at start (`bootstrap_file`) and by
 * POST /api/v5/authentication/{id}/import_users:
 *
 * - CSV: a header line naming the columns, then one user per line; no quoting (EMQX's reader
 *   splits on commas and trims), blank lines ignored, an empty field is absent.
 *     user_id,password,is_superuser            (bootstrap_type / type = plain)
 *     user_id,password_hash,salt,is_superuser  (hash)
 * - JSON: an array of objects with the same keys (`is_superuser` true/false).
 *
 * EMQX's `namespace` column (multi-tenancy) is accepted when empty; a user in a namespace is
 * refused, since Petrel has no namespaces. Errors name the file and the line (CSV) or the
 * entry (JSON), never a password.
 */
import type { Parsed } from '../types.js';

export type UserFileFormat = 'csv' | 'json';
export type PasswordType = 'plain' | 'hash';

/** One user as read from a file: a plain password, or a stored hash and salt. */
export type FileUser =
  | { user_id: string; password: string; is_superuser: boolean; where: string }
  | { user_id: string; password_hash: string; salt: string; is_superuser: boolean; where: string };

/** The format EMQX picks by file name. */
export function formatOfFile(file: string): UserFileFormat | undefined {
  const lower = file.toLowerCase();
  return lower.endsWith('.csv') ? 'csv' : lower.endsWith('.json') ? 'json' : undefined;
}

const KNOWN = new Set(['user_id', 'password', 'password_hash', 'salt', 'is_superuser', 'namespace']);

function superuser(v: unknown, where: string): Parsed<boolean> {
  if (v === undefined || v === null || v === false || v === 'false' || v === '') return { ok: true, value: false };
  if (v === true || v === 'true') return { ok: true, value: true };
  return { ok: false, error: `${where}: is_superuser must be true or false, got ${JSON.stringify(v)}` };
}

/** Turns one record (CSV row or JSON object) into a user; `where` prefixes errors. */
function toUser(rec: Record<string, unknown>, type: PasswordType, where: string): Parsed<FileUser> {
  const id = rec.user_id;
  if (typeof id !== 'string' || id === '') return { ok: false, error: `${where}: user_id is missing` };
  const at = `${where} (user_id ${JSON.stringify(id)})`;
  const ns = rec.namespace;
  if (ns !== undefined && ns !== null && ns !== '') return { ok: false, error: `${at}: namespace ${JSON.stringify(ns)}: namespaces are not supported` };
  const su = superuser(rec.is_superuser, at);
  if (!su.ok) return su;
  if (type === 'plain') {
    const pw = rec.password;
    if (typeof pw !== 'string' || pw === '') return { ok: false, error: `${at}: a plain import needs a password field` };
    return { ok: true, value: { user_id: id, password: pw, is_superuser: su.value, where } };
  }
  const hash = rec.password_hash;
  if (typeof hash !== 'string' || hash === '') return { ok: false, error: `${at}: a hash import needs a password_hash field` };
  const salt = rec.salt ?? '';
  if (typeof salt !== 'string') return { ok: false, error: `${at}: salt must be a string` };
  return { ok: true, value: { user_id: id, password_hash: hash, salt, is_superuser: su.value, where } };
}

function parseCsv(text: string, type: PasswordType, file: string): Parsed<FileUser[]> {
  const lines = text.split(/\r\n|\r|\n/);
  let header: string[] | null = null;
  const users: FileUser[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/^\uFEFF/, '');
    if (line.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    const fields = line.split(',').map((f) => f.trim());
    if (header === null) {
      header = fields;
      const unknown = header.filter((h) => !KNOWN.has(h));
      if (unknown.length > 0) return { ok: false, error: `${where}: unknown column ${unknown.map((u) => JSON.stringify(u)).join(', ')} in the header (known: ${[...KNOWN].join(', ')})` };
      if (!header.includes('user_id')) return { ok: false, error: `${where}: the header line must name a user_id column` };
      continue;
    }
    if (fields.length !== header.length) {
      return { ok: false, error: `${where}: ${fields.length} fields where the header has ${header.length} (${header.join(',')})` };
    }
    const rec: Record<string, unknown> = {};
    for (let j = 0; j < header.length; j++) if (fields[j] !== '') rec[header[j]] = fields[j];
    const u = toUser(rec, type, where);
    if (!u.ok) return u;
    users.push(u.value);
  }
  return { ok: true, value: users };
}

/** 1-based line of a character offset, to point at a JSON syntax error. */
const lineAt = (text: string, pos: number): number => text.slice(0, pos).split('\n').length;

function parseJson(text: string, type: PasswordType, file: string): Parsed<FileUser[]> {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    return { ok: false, error: `${file}${m ? `:${lineAt(text, Number(m[1]))}` : ''}: not valid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(doc)) return { ok: false, error: `${file}: expected a JSON array of users, got ${doc === null ? 'null' : typeof doc}` };
  const users: FileUser[] = [];
  for (let i = 0; i < doc.length; i++) {
    const where = `${file}: entry ${i}`;
    const rec = doc[i];
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return { ok: false, error: `${where}: expected an object` };
    const unknown = Object.keys(rec).filter((k) => !KNOWN.has(k));
    if (unknown.length > 0) return { ok: false, error: `${where}: unknown key ${unknown.map((u) => JSON.stringify(u)).join(', ')} (known: ${[...KNOWN].join(', ')})` };
    const u = toUser(rec as Record<string, unknown>, type, where);
    if (!u.ok) return u;
    users.push(u.value);
  }
  return { ok: true, value: users };
}

/** Reads a whole user file; the first bad line fails it (nothing is imported from a bad file). */
export function parseUserFile(format: UserFileFormat, text: string, type: PasswordType, file: string): Parsed<FileUser[]> {
  return format === 'csv' ? parseCsv(text, type, file) : parseJson(text, type, file);
}
