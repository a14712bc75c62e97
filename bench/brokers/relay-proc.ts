/**
 * A bare TCP relay (the `petrel-relay` broker's extra process): every accepted connection is
 * piped both ways to 127.0.0.1:<target>, Nagle off on both sides, nothing parsed. It prints the
 * port it listens on as its first line of output.
 */
import net from 'node:net';

const target = Number(process.argv[2]);
if (!Number.isInteger(target) || target <= 0) { process.stderr.write('usage: relay-proc <target port>\n'); process.exit(2); }
const server = net.createServer((down) => {
  const up = net.connect(target, '127.0.0.1');
  down.setNoDelay(true);
  up.setNoDelay(true);
  down.pipe(up);
  up.pipe(down);
  const close = (): void => { down.destroy(); up.destroy(); };
  down.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
