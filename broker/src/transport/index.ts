/**
 * Transport: listeners (tcp, ssl, ws, wss) that turn accepted sockets into Connections, and the
 * UDP endpoint (udp.ts) that turns datagrams into per-peer DatagramPeers. Knows nothing of MQTT
 * or any other protocol; see types.ts for the Connection contract.
 */
export type { Connection, ConnectionHandler, ConnectionInfo, ListenerSpec, OnConnection, PeerCert, TransportType } from './types.js';
export { Listeners, type ListenersOptions } from './listeners.js';
export { MQTT_SUBPROTOCOLS, type ListenerStatus, type AnyListenerConfig } from './listener.js';
export { ListenerError } from './errors.js';
export { SocketConnection } from './socket-connection.js';
export { WsConnection } from './ws-connection.js';
export { RAW_TCP_TESTED_MAJORS, rawTcpVersionGate, rawTcpChoice, type RawTcpChoice } from './raw-tcp.js';
export {
  UdpEndpoint, DatagramPeer, type UdpEndpointOptions, type UdpEndpointStatus, type DatagramHandler, type DatagramCloseReason,
} from './udp.js';
