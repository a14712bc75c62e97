/**
 * The `petrel-relay` broker of the benchmark: one Petrel node, and a bare TCP relay process
 * (relay-proc.ts) in front of its subscribers. A message takes one more process hop than with
 * plain `petrel` — as a cross-node message does in `petrel-cluster` — but the hop does nothing
 * but copy bytes. So `petrel-cluster` against `petrel-relay` is what the node link itself adds
 * over the machine's cost of an extra process on the path (scheduling, a loopback TCP write and
 * read), which on a small shared machine is most of the cross-node latency. The relay's CPU is
 * measured apart (`aside.relay`), not as the broker's.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBroker, type BrokerHandle, type LaunchOptions } from './launch.js';

export const RELAY = 'petrel-relay' as const;

export async function launchRelay(opts: LaunchOptions): Promise<BrokerHandle> {
  const petrel = await launchBroker('petrel', opts);
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'relay-proc.js'), String(petrel.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the relay did not start in 10 s')), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(\d+)\n/.exec(out);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the relay exited with ${code}`)); });
    });
    return {
      ...petrel,
      name: RELAY,
      subPort: port,
      aside: { relay: child.pid ?? -1 },
      stop: async () => {
        child.kill('SIGTERM');
        await petrel.stop();
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    await petrel.stop();
    throw err;
  }
}
