#!/usr/bin/env node
/**
 * The `petrel` command.
 *
 *   petrel [--config petrel.yaml]         run a node (config file, then PETREL_* env overrides)
 *   petrel ctl <command> [--api URL]      talk to a running node's REST API
 *
 * Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad config or usage, 3 a listener
 * could not bind.
 */
import { VERSION } from './version.js';

const USAGE = `usage:
  petrel [--config FILE]          start a broker node
  petrel ctl COMMAND [--json] [--api URL]  the management API: clients, subscriptions, topics, rules, banned, cluster, listeners… (petrel ctl --help)
  petrel --version`;

async function main(argv: string[]): Promise<number> {
  // The broker's modules are loaded only to run a node: `petrel ctl` starts in a fraction of the time.
  if (argv[0] === 'ctl') {
    const code = await (await import('./ctl/index.js')).runCtl(argv.slice(1));
    // A long table must reach a pipe before process.exit (pipes are asynchronous on some systems).
    await new Promise<void>((r) => process.stdout.write('', () => r()));
    return code;
  }
  if (argv.includes('--version')) { console.log(VERSION); return 0; }
  if (argv.includes('--help') || argv.includes('-h')) { console.log(USAGE); return 0; }
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config' || argv[i] === '-c') { file = argv[++i]; if (!file) { console.error('--config needs a file\n' + USAGE); return 2; } }
    else if (argv[i].startsWith('--config=')) file = argv[i].slice(9);
    else { console.error(`unknown argument '${argv[i]}'\n${USAGE}`); return 2; }
  }
  const [{ loadConfig, ConfigError }, { createLogger }, { startNode }] = await Promise.all([import('./config/index.js'), import('./log.js'), import('./node.js')]);
  let cfg;
  try {
    cfg = loadConfig({ file, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) { console.error(err.message); return 2; }
    throw err;
  }
  const [{ workerCount, workerConfig }, { workerIndex, reportReady }] = await Promise.all([import('./workers/config.js'), import('./workers/worker.js')]);
  const workers = workerCount(cfg);
  if (workers > 1 && workerIndex === 0) {
    // node.workers: this process only forks the workers and shares the listening sockets.
    return (await import('./workers/primary.js')).runPrimary(workers, createLogger(cfg.log));
  }
  if (workerIndex > 0) cfg = workerConfig(cfg, workerIndex);
  const log = workerIndex > 0 ? createLogger(cfg.log).child({ worker: workerIndex }) : createLogger(cfg.log);
  let node;
  try {
    node = await startNode(cfg, log);
  } catch (err) {
    const e = err as Error & { code?: string };
    log.error({ code: e.code }, e.message);
    console.error(`petrel: ${e.message}`);
    return e.code === 'LISTENER_BIND_FAILED' || /cannot bind/.test(e.message) ? 3 : 1;
  }
  const ports = node.listeners.list().filter((l) => l.running).map((l) => `${l.id}=${l.bind}`);
  log.info({ node: cfg.node.name, version: VERSION, listeners: ports, api: node.api ? node.api.port : null, data_dir: cfg.node.data_dir, durability: cfg.durability.mode }, 'petrel started');
  reportReady({ node: cfg.node.name, listeners: ports });
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (sig: string): void => {
      // A worker's SIGTERM may come twice (from its primary and from a supervisor signalling the whole
      // group, as systemd does): it stops once; its primary kills it if it must not wait.
      if (stopping && workerIndex > 0) return;
      if (stopping) { log.warn({ sig }, 'second signal: exiting now'); done(1); return; }
      stopping = true;
      log.info({ sig }, 'stopping: closing listeners, disconnecting clients (0x8B), persisting state');
      node.stop().then(() => done(0), (err) => { log.error({ err }, 'error while stopping'); done(1); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    // A worker is stopped by its primary (SIGTERM); a terminal's Ctrl-C reaches the whole group.
    process.on('SIGINT', () => { if (workerIndex === 0) stop('SIGINT'); });
  });
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error('petrel: fatal:', err);
  process.exit(1);
});
