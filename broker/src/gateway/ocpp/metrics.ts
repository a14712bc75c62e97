/**
 * The OCPP gateway's counters: the common ones (gateway/metrics.ts) and two of its own, so a
 * central system or charge point sending messages the schemas refuse shows up in
 * /api/v5/gateways and Prometheus (`gateway.ocpp.messages.invalid_upstream`, `….dropped_downstream`).
 */
import { GatewayMetrics } from '../metrics.js';

export class OcppMetrics extends GatewayMetrics {
  /** Charge point messages refused by the JSON schemas (answered with CALLERROR). */
  invalidUp = 0;
  /** Central system messages dropped: not JSON, refused by the schemas, answering nothing, or queue full. */
  droppedDown = 0;

  override snapshot(): Record<string, number> {
    return { ...super.snapshot(), 'messages.invalid_upstream': this.invalidUp, 'messages.dropped_downstream': this.droppedDown };
  }
}
