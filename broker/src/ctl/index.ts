/**
 * `petrel ctl`: the management API from the command line. Talks to a running node's REST API
 * (default http://127.0.0.1:18083, or PETREL_API_URL / --api URL; PETREL_API_KEY="key:secret"
 * is sent as HTTP Basic). Every command prints a table with a header row, or with --json the
 * API's answer. Exit codes: 0 done; 1 the API refused (its `CODE: message` on stderr) or the
 * node could not be reached; 2 a usage mistake. The commands live one group per file.
 */
import { bannedCommands } from './banned.js';
import { clientCommands } from './clients.js';
import { parseArgs, type Args, type Command, type Ctx } from './command.js';
import { ApiClient, CtlError, usageError } from './http.js';
import { nodeCommands } from './node.js';
import { ruleCommands } from './rules.js';
import { topicCommands } from './topics.js';
import { traceCommands } from './trace.js';

export { formatUptime, nodesTable } from './table.js';

const COMMANDS: readonly Command[] = [...nodeCommands, ...clientCommands, ...topicCommands, ...ruleCommands, ...bannedCommands, ...traceCommands];

const BY_NAME: ReadonlyMap<string, Command> = new Map(COMMANDS.flatMap((c) => c.names.map((n) => [n, c] as const)));

export const CTL_USAGE = [
  'usage: petrel ctl COMMAND [--json] [--api URL]',
  ...COMMANDS.map((c) => '  ' + c.usage),
  'Tables by default; --json prints the API\'s answer. API: --api URL or PETREL_API_URL (default http://127.0.0.1:18083), key PETREL_API_KEY=key:secret.',
].join('\n');

const HELP = ['--help', '-h'];

/** Runs one command; resolves to the process exit code. */
export async function runCtl(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => console.log(s));
  const err = io.err ?? ((s: string) => console.error(s));
  if (argv[0] === 'help' || argv.some((a) => HELP.includes(a))) { out(CTL_USAGE); return 0; }
  try {
    const a = parseArgs(argv);
    const cmd = BY_NAME.get(a.pos[0] ?? '');
    if (cmd === undefined) throw usageError(a.pos[0] === undefined ? 'no command' : `unknown command ${a.pos[0]}`);
    checkOptions(cmd, a);
    const ctx: Ctx = {
      api: new ApiClient(apiBase(a.opts.get('api') ?? process.env.PETREL_API_URL ?? 'http://127.0.0.1:18083'), process.env.PETREL_API_KEY),
      json: a.flags.has('json'), out, note: err,
    };
    return await cmd.run(ctx, a);
  } catch (e) {
    if (!(e instanceof CtlError)) throw e;
    err(e.exit === 2 ? `${e.message}\n${CTL_USAGE}` : e.message);
    return e.exit;
  }
}

/** The node's base URL without a trailing '/'; not an http(s) URL is a usage error. */
function apiBase(url: string): string {
  let u: URL;
  try { u = new URL(url); } catch { throw usageError(`--api (or PETREL_API_URL) is not a URL: ${url}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`--api (or PETREL_API_URL) must be http:// or https://, not ${url}`);
  return url.replace(/\/+$/, '');
}

/** An option the command does not take is a usage error, not silently ignored. */
function checkOptions(cmd: Command, a: Args): void {
  for (const name of a.opts.keys()) if (name !== 'api' && !(cmd.options ?? []).includes(name)) throw usageError(`${cmd.names[0]} takes no --${name}`);
  for (const name of a.flags) if (name !== 'json' && !(cmd.flags ?? []).includes(name)) throw usageError(`${cmd.names[0]} takes no --${name}`);
}
