/**
 * CutProxy for the etcd tests: a stand-in for an etcd member that goes away and comes back.
 */
import net from 'node:net';

/**
 * A loopback TCP proxy in front of one etcd member that can be cut: while cut it destroys every
 * connection through it and refuses new ones, as a member that went away would.
 */
export class CutProxy {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private cut = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const s of this.sockets) s.destroy();
  }

  close(): void {
    this.setCut(true);
    this.server.close();
  }

  private accept(client: net.Socket): void {
    if (this.cut) { client.destroy(); return; }
    const upstream = net.connect(this.target);
    for (const [s, other] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(s);
      s.on('error', () => other.destroy());
      s.on('close', () => { this.sockets.delete(s); other.destroy(); });
      s.pipe(other);
    }
  }
}
