/**
 * Packet types. The codec's packets are mqtt-packet 9 packets, so we reuse its type declarations
 * (type-only: no runtime dependency). Every parsed packet additionally carries mqtt-packet's fixed
 * keys (retain, qos, dup, length, topic, payload) with their defaults, exactly as mqtt-packet's
 * parser emits them.
 */
export type {
  Packet, PacketCmd, QoS, UserProperties, ISubscription, IConnectPacket, IConnackPacket, IPublishPacket,
  IPubackPacket, IPubrecPacket, IPubrelPacket, IPubcompPacket, ISubscribePacket, ISubackPacket,
  IUnsubscribePacket, IUnsubackPacket, IPingreqPacket, IPingrespPacket, IDisconnectPacket, IAuthPacket,
} from 'mqtt-packet';

export type ProtocolVersion = 3 | 4 | 5;
