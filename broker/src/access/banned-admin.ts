/**
 * The banned list as the REST API sees it (api/admin.ts BannedAdmin): EMQX's request fields in,
 * EMQX's rendering out. The list itself stays in access/banned.ts.
 */
import type { BannedAdmin } from '../api/admin.js';
import { BAN_KINDS, formatBan, parseBan, parseWho, nowSec, type BanKind, type BannedList } from './banned.js';

export function bannedAdmin(list: BannedList): BannedAdmin {
  return {
    list: () => list.list().map(formatBan),
    async create(body) {
      const now = nowSec();
      const ban = parseBan(body, now);
      if (!ban.ok) return { ok: false, error: ban.error };
      const r = list.create(ban.value, now);
      if (r.ok) await list.written;
      if (!r.ok) return { ok: false, error: `${r.exists.as} ${r.exists.who} is already banned (until ${formatBan(r.exists).until}); delete the ban to change it`, exists: formatBan(r.exists) };
      return { ok: true, ban: formatBan(r.ban) };
    },
    async delete(as, who) {
      if (!(BAN_KINDS as readonly string[]).includes(as)) return false;
      const w = parseWho(as as BanKind, who);
      if (!w.ok || !list.delete(as as BanKind, w.value)) return false;
      await list.written;
      return true;
    },
    async clear() { list.clear(); await list.written; },
  };
}
