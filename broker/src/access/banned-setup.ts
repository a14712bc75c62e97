/**
 * The banned list, flapping detection and their connect gate, built from the config when the
 * node starts: stored bans loaded (expired ones dropped), the bootstrap file read when the list
 * is empty (EMQX loads it only then, so deleting a bootstrapped ban sticks across restarts),
 * the purge and sweep timers started. A bootstrap file that cannot be read or has bad lines is
 * reported in the log (file, line, why); the node starts anyway, as EMQX does.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/index.js';
import type { Hooks } from '../hooks.js';
import type { Logger } from '../log.js';
import type { SharedStore } from './shared-store.js';
import { BannedList, nowSec } from './banned.js';
import { parseBannedCsv } from './banned-csv.js';
import { ConnectGuard, type GuardClients, type GuardCounters } from './connect-guard.js';
import { FlappingDetector } from './flapping.js';

export interface BannedRuntime {
  readonly list: BannedList;
  readonly flapping: FlappingDetector | null;
  stop(): void;
}

export function startBanned(cfg: Config, store: SharedStore, hooks: Hooks, clients: GuardClients, counters: GuardCounters, log: Logger): BannedRuntime {
  const list = new BannedList(store);
  const loaded = list.load();
  const file = cfg.banned.bootstrap_file;
  if (file !== '' && loaded === 0) bootstrap(list, resolve(file), log);
  const f = cfg.flapping_detect;
  const flapping = f.enable ? new FlappingDetector({ windowMs: f.window_time, maxCount: f.max_count, banMs: f.ban_time }, list) : null;
  const guard = new ConnectGuard({ hooks, banned: list, flapping, clients, counters, log });
  list.start();
  flapping?.start();
  return {
    list, flapping,
    stop() { guard.stop(); list.stop(); flapping?.stop(); },
  };
}

function bootstrap(list: BannedList, path: string, log: Logger): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    log.error({ file: path, err: (err as Error).message }, 'banned.bootstrap_file cannot be read; no bans loaded from it');
    return;
  }
  const { bans, errors } = parseBannedCsv(text, path, nowSec());
  for (const e of errors) log.warn({ file: path }, `banned.bootstrap_file: line skipped: ${e}`);
  for (const b of bans) list.ensure(b);
  log.info({ file: path, loaded: bans.length, skipped: errors.length }, 'banned list bootstrapped');
}
