/**
 * Per-gateway counters (EMQX shows a gateway's current and total clients and its messages in
 * its own dashboard page): kept by each gateway, read by the REST API (/api/v5/gateways) and
 * merged into the node's stats as `gateway.<name>.<counter>`, so Prometheus scrapes them too.
 */
export class GatewayMetrics {
  /** Clients connected now. */
  clients = 0;
  /** Clients ever connected. */
  connected = 0;
  /** Messages published by the gateway's clients. */
  received = 0;
  /** Messages sent to the gateway's clients. */
  sent = 0;
  /** Datagrams or frames refused as malformed. */
  malformed = 0;
  /** Messages or operations refused by authorization. */
  denied = 0;
  /** New peers refused by max_conn_rate or max_connections. */
  refused = 0;

  clientOpened(): void { this.clients++; this.connected++; }
  clientClosed(): void { if (this.clients > 0) this.clients--; }

  snapshot(): Record<string, number> {
    return {
      'clients.count': this.clients, 'clients.connected': this.connected, 'messages.received': this.received,
      'messages.sent': this.sent, 'frames.malformed': this.malformed, 'authorization.deny': this.denied, 'peers.refused': this.refused,
    };
  }
}
