/**
 * Child-process entry that runs Aedes (npm aedes 1.x, default in-memory persistence) as a plain
 * `net` server on 127.0.0.1:<port>, for the benchmark. Usage: aedes-server.js <port>
 */
import net from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: aedes-server <port>\n');
  process.exit(2);
}
const aedes = await Aedes.createBroker();
const server = net.createServer({ noDelay: true }, aedes.handle);
server.on('error', (e) => {
  process.stderr.write(`aedes-server: ${e.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1');
const shutdown = () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
