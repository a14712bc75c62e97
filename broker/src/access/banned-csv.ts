/**
 * The banned list's bootstrap file (`banned.bootstrap_file`) in EMQX's CSV format: a header
 * naming the columns, then one ban a line. `as` and `who` are required; `reason`, `at`, `until`
 * and `by` may be left out or empty (defaults, as EMQX: "", now, infinity, "mgmt_api"):
 *
 *   as,who,reason,at,until,by
 *   clientid,c1,reason 1,2021-10-25T21:53:47+08:00,2125-10-25T21:53:47+08:00,boot
 *   username,u1,,,,
 *   peerhost_net,10.0.0.0/8,lab network,,infinity,ops
 *
 * Fields may be quoted ("a, b" with "" for a quote). As in EMQX, a bad line is skipped and
 * reported (file:line and why); the others load.
 */
import { parseBan, type Ban } from './banned.js';

export interface CsvResult {
  bans: Ban[];
  /** "<file>:<line>: <what is wrong>" for each line skipped. */
  errors: string[];
}

const KNOWN = new Set(['as', 'who', 'reason', 'at', 'until', 'by']);

/** Splits one CSV line; null when a quote is not closed. */
function fields(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let v = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') { v += '"'; i += 2; continue; }
          i++;
          break;
        }
        v += line[i++];
      }
      const comma = line.indexOf(',', i);
      v += (comma < 0 ? line.slice(i) : line.slice(i, comma)).trim();
      i = comma < 0 ? line.length : comma;
    } else {
      const comma = line.indexOf(',', i);
      v = comma < 0 ? line.slice(i) : line.slice(i, comma);
      i = comma < 0 ? line.length : comma;
    }
    out.push(v.trim());
    if (i >= line.length) return out;
    i++; // the comma
  }
}

export function parseBannedCsv(text: string, file: string, now: number): CsvResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const bans: Ban[] = [];
  const errors: string[] = [];
  let header: string[] | null = null;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === '') continue;
    const where = `${file}:${n + 1}`;
    const f = fields(line);
    if (f === null) { errors.push(`${where}: unclosed quote`); continue; }
    if (header === null) {
      const unknown = f.filter((h) => !KNOWN.has(h));
      if (!f.includes('as') || !f.includes('who') || unknown.length > 0) {
        errors.push(`${where}: the first line must be a header naming the columns (as,who and any of reason,at,until,by)${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}`);
        return { bans, errors };
      }
      header = f;
      continue;
    }
    if (f.length > header.length) { errors.push(`${where}: ${f.length} fields, the header has ${header.length}`); continue; }
    // Empty fields count as absent (EMQX reads the file with nullable columns).
    const raw: Record<string, unknown> = {};
    header.forEach((h, i) => { if (f[i] !== undefined && f[i] !== '') raw[h] = f[i]; });
    const ban = parseBan(raw, now);
    if (ban.ok) bans.push(ban.value); else errors.push(`${where}: ${ban.error}`);
  }
  if (header === null) errors.push(`${file}: empty; expected a header line "as,who,reason,at,until,by"`);
  return { bans, errors };
}
