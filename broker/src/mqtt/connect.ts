/**
 * CONNECT and AUTH: validating the CONNECT packet, the pre-authentication gate
 * (`client.connect`: banned lists, flapping), authentication (including the MQTT 5
 * enhanced-authentication exchange and re-authentication), and the CONNACK with the server's
 * limits. Takeover, resumption and wills are the client manager's: this file only asks it.
 */
import { randomBytes } from 'node:crypto';
import type { Packet, IConnectPacket, IAuthPacket } from './codec/index.js';
import type { Channel } from './channel.js';
import { ERRORS, MqttError, RC } from '../errors.js';
import { reasonName } from './reason-names.js';
import type { AuthRequest, AuthResult } from '../hooks.js';
import { validTopicName } from '../router/index.js';
import { NEVER_EXPIRE } from '../session/registry.js';
import { willFromConnect } from './disconnect.js';
import { peerCertValue, type PeerCertAs } from '../transport/tls-options.js';

/** MQTT 3.1/3.1.1 CONNACK accepted (return code 0), without and with Session Present. */
const CONNACK_V3_NEW = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const CONNACK_V3_PRESENT = Buffer.from([0x20, 0x02, 0x01, 0x00]);

export function handleConnect(ch: Channel, p: Packet): void {
  const c = p as IConnectPacket;
  const cfg = ch.cfg;
  ch.count('packets.connect.received');
  ch.count('client.connect');
  ch.protocolVersion = (c.protocolVersion ?? 4) as 3 | 4 | 5;
  const v5 = ch.protocolVersion === 5;
  const props = (c.properties ?? {}) as NonNullable<IConnectPacket['properties']>;
  if (v5 && props.requestProblemInformation === false) ch.requestProblemInfo = false;
  // Known before any CONNACK is sent, so that even a refusal respects it [MQTT-3.2.2-19]
  if (v5 && typeof props.maximumPacketSize === 'number' && props.maximumPacketSize > 0) ch.clientMaxPacket = props.maximumPacketSize;
  ch.parser.protocolVersion = ch.protocolVersion;

  // ssl/wss: a verified client certificate may name the client instead (as EMQX: it wins over CONNECT).
  const certId = fromPeerCert(ch, cfg.peerCertAsClientid);
  const certUser = fromPeerCert(ch, cfg.peerCertAsUsername);

  // Client identifier [MQTT-3.1.3-6..8]
  let clientId = certId ?? c.clientId ?? '';
  let assigned = false;
  if (clientId.length === 0) {
    if (ch.protocolVersion === 3) throw new MqttError('CLIENT_ID_NOT_VALID', 'MQTT 3.1 requires a client id');
    if (ch.protocolVersion === 4 && c.clean === false) throw new MqttError('CLIENT_ID_NOT_VALID', 'empty client id needs clean session'); // [MQTT-3.1.3-8]
    clientId = 'petrel-' + randomBytes(8).toString('hex');
    assigned = true;
  }
  if (clientId.length > cfg.maxClientIdLen) throw new MqttError('CLIENT_ID_NOT_VALID', `client id longer than ${cfg.maxClientIdLen}`);
  ch.identify(clientId, certUser ?? c.username ?? null);
  ch.cleanStart = c.clean !== false;
  if (ch.broker.trace !== null) ch.broker.trace.identify(ch, p);

  // Will [MQTT-3.1.2-9..] — validate now, publish only on abnormal close.
  if (c.will) {
    if (!validTopicName(c.will.topic, cfg.maxTopicLevels)) throw new MqttError('TOPIC_NAME_INVALID', 'will topic');
    if ((c.will.qos ?? 0) > cfg.maxQosAllowed) throw new MqttError('QOS_NOT_SUPPORTED', 'will QoS');
    if (c.will.retain && !cfg.retainAvailable) throw new MqttError('RETAIN_NOT_SUPPORTED', 'will retain');
  }

  if (v5) {
    if (props.receiveMaximum === 0) throw new MqttError('PROTOCOL_ERROR', 'receive maximum 0'); // [MQTT-3.1.2-?]
    if (props.maximumPacketSize === 0) throw new MqttError('PROTOCOL_ERROR', 'maximum packet size 0');
    if (props.maximumPacketSize !== undefined) ch.clientMaxPacket = props.maximumPacketSize;
    ch.clientTopicAliasMax = props.topicAliasMaximum ?? 0;
    if (ch.clientTopicAliasMax > 0) ch.aliasOut = new Map();
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) throw new MqttError('PROTOCOL_ERROR', 'authentication data without method');
    ch.authMethod = props.authenticationMethod ?? null;
  }
  // Server Keep Alive is an MQTT 5 feature: a v3 client is never told, so its own keep alive holds.
  ch.keepalive = v5 && cfg.serverKeepalive !== null ? cfg.serverKeepalive : (c.keepalive ?? 0);

  const b = ch.broker;
  if (b.hooks.active('client.connect')) {
    // Pre-authentication gate: banned lists, flapping detection, rate limits.
    ch.state = 'auth';
    ch.hold(true);
    b.hooks.connect(ch.info).then((v) => {
      if (ch.state === 'closed') return;
      if (v !== undefined) { b.metrics.counters['client.connect.denied']++; ch.fail(v.reason); return; }
      ch.state = 'new';
      ch.holding = false;
      ch.conn.resume();
      try { authenticate(ch, c, assigned, props); } catch (err) {
        if (err instanceof MqttError) ch.fail(err.code, err.message); else ch.fail('UNSPECIFIED_ERROR', 'internal error');
      }
    }, (err) => { ch.log.error({ clientid: clientId, err }, 'client.connect hook failed'); ch.fail('NOT_AUTHORIZED', 'connect check error'); });
    return;
  }
  authenticate(ch, c, assigned, props);
}

/** C0 and C1 controls: a certificate field holding them must not reach placeholders and HTTP requests. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function fromPeerCert(ch: Channel, as: PeerCertAs): string | undefined {
  if (as === 'disabled') return undefined;
  const v = peerCertValue(ch.conn.info.peerCert, as);
  if (v !== undefined && (as === 'cn' || as === 'dn') && CONTROL.test(v)) throw new MqttError('NOT_AUTHORIZED', `client certificate ${as} holds control characters`);
  return v;
}

function authenticate(ch: Channel, c: IConnectPacket, assigned: boolean, props: NonNullable<IConnectPacket['properties']>): void {
  const b = ch.broker;
  const clientId = ch.clientId;
  if (!b.hooks.active('client.authenticate')) {
    if (ch.authMethod !== null) throw new MqttError('BAD_AUTHENTICATION_METHOD', ch.authMethod);
    b.metrics.counters['client.auth.anonymous']++;
    authnComplete(ch, 'success', true);
    connected(ch, c, assigned, null);
    return;
  }
  const req: AuthRequest = {
    client: ch.info, password: c.password !== undefined ? Buffer.from(c.password) : null,
    method: ch.authMethod, data: (props.authenticationData as Buffer | undefined) ?? null, phase: 'connect', state: ch.authState,
  };
  ch.state = 'auth';
  ch.hold(false);
  b.metrics.counters['client.authenticate']++;
  ch.pendingConnect = (data) => connected(ch, c, assigned, data);
  b.hooks.authenticate(req).then((r) => authStep(ch, r, ch.pendingConnect!), (err) => {
    ch.log.error({ clientid: clientId, err }, 'authentication failed with an error');
    ch.fail('NOT_AUTHORIZED', 'authentication error');
  });
}

/** Applies an authentication result: continue the exchange, fail, or finish. */
function authStep(ch: Channel, r: AuthResult | undefined, done: (data: Buffer | null) => void): void {
  if (ch.state === 'closed') return;
  if (r === undefined) {
    if (ch.authMethod !== null) { authnComplete(ch, 'bad_authentication_method', false); ch.fail('BAD_AUTHENTICATION_METHOD', ch.authMethod); return; }
    ch.broker.metrics.counters['client.auth.anonymous']++;
    authnComplete(ch, 'success', true);
    done(null);
    return;
  }
  if (r.result === 'deny') {
    ch.count('packets.connack.auth_error');
    const code = r.reason ?? (ch.protocolVersion === 5 ? 'NOT_AUTHORIZED' : 'BAD_USERNAME_OR_PASSWORD');
    authnComplete(ch, reasonName(ERRORS[code].reason), false);
    ch.fail(code);
    return;
  }
  if (r.result === 'continue') {
    if (ch.protocolVersion !== 5 || ch.authMethod === null) { ch.fail('NOT_AUTHORIZED', 'authenticator asked to continue without MQTT 5 enhanced auth'); return; }
    ch.sendPacket({ cmd: 'auth', reasonCode: RC.CONTINUE_AUTHENTICATION, properties: { authenticationMethod: ch.authMethod, authenticationData: r.data } } as Packet);
    ch.count('packets.auth.sent');
    return;
  }
  if (r.isSuperuser) ch.info.isSuperuser = true;
  ch.authExpireAt = r.expireAt ?? 0;
  if (ch.state !== 'connected') authnComplete(ch, 'success', false);
  done(r.data ?? null);
}

/** AUTH from the client: the next step of enhanced authentication, or re-authentication. */
export function handleAuth(ch: Channel, p: Packet): void {
  const a = p as IAuthPacket;
  ch.count('packets.auth.received');
  const method = a.properties?.authenticationMethod;
  // [MQTT-4.12.0-?] AUTH is only valid with the method chosen in CONNECT
  if (ch.protocolVersion !== 5 || ch.authMethod === null || method !== ch.authMethod) throw new MqttError('PROTOCOL_ERROR', 'AUTH without matching authentication method');
  const rc = a.reasonCode ?? 0;
  // During CONNECT only 0x18 (continue) is valid; once connected 0x19 starts a re-authentication
  // and 0x18 continues it [MQTT-4.12.1-1].
  if (rc !== RC.CONTINUE_AUTHENTICATION && !(rc === RC.REAUTHENTICATE && ch.state === 'connected')) {
    throw new MqttError('PROTOCOL_ERROR', `AUTH reason code 0x${rc.toString(16)} not valid here`);
  }
  if (ch.state === 'auth' && ch.pendingConnect === null) throw new MqttError('PROTOCOL_ERROR', 'AUTH before authentication started');
  const phase = rc === RC.REAUTHENTICATE ? 'reauth' : 'continue';
  const req: AuthRequest = {
    client: ch.info, password: null, method, data: (a.properties?.authenticationData as Buffer | undefined) ?? null, phase, state: ch.authState,
  };
  const wasConnected = ch.state === 'connected';
  ch.broker.hooks.authenticate(req).then((r) => {
    if (ch.state === 'closed') return;
    if (!wasConnected) { authStep(ch, r, ch.pendingConnect!); return; }
    // Re-authentication: success → AUTH 0x00; failure → DISCONNECT [MQTT-4.12.1-2]
    if (r === undefined || r.result === 'deny') { ch.fail(r?.result === 'deny' && r.reason ? r.reason : 'NOT_AUTHORIZED', 're-authentication failed'); return; }
    // The new credential decides how long the connection may last: a fresh token moves the end.
    if (r.result === 'allow') ch.authExpireAt = r.expireAt ?? 0;
    const reasonCode = r.result === 'continue' ? RC.CONTINUE_AUTHENTICATION : RC.SUCCESS;
    ch.sendPacket({ cmd: 'auth', reasonCode, properties: { authenticationMethod: ch.authMethod!, authenticationData: r.data } } as Packet);
    ch.count('packets.auth.sent');
  }, () => ch.fail('NOT_AUTHORIZED', 'authentication error'));
}

/** After authentication: takeover, session, CONNACK, resend. */
function connected(ch: Channel, c: IConnectPacket, assigned: boolean, authData: Buffer | null, claimed = false): void {
  if (ch.state === 'closed') return;
  if (!claimed) {
    // In a cluster the client id is claimed cluster-wide first (takeover from another node).
    const claim = ch.clients.claim(ch.clientId, c.clean !== false);
    if (claim !== null) {
      ch.state = 'auth';
      ch.hold(true);
      claim.then(() => connected(ch, c, assigned, authData, true), (err) => {
        ch.log.error({ clientid: ch.clientId, err }, 'client claim failed');
        ch.fail('SERVER_UNAVAILABLE', 'client registry unavailable');
      });
      return;
    }
  }
  const b = ch.broker;
  const cfg = ch.cfg;
  const v5 = ch.protocolVersion === 5;
  const props = (c.properties ?? {}) as NonNullable<IConnectPacket['properties']>;
  const clientId = ch.clientId;

  // Session expiry: v5 from the property (capped by config), v3 clean_session=0 → the configured interval.
  let expiry = v5 ? (props.sessionExpiryInterval ?? 0) : (c.clean ? 0 : cfg.sessionExpirySec);
  let expiryCapped = false;
  if (v5 && expiry !== NEVER_EXPIRE && expiry > cfg.sessionExpirySec) { expiry = cfg.sessionExpirySec; expiryCapped = true; }
  if (v5 && expiry === NEVER_EXPIRE && cfg.sessionExpirySec !== NEVER_EXPIRE) { expiry = cfg.sessionExpirySec; expiryCapped = true; }

  const { session, present } = ch.clients.open(ch, {
    cleanStart: c.clean !== false, expiry, will: c.will ? willFromConnect(c, ch.info, cfg.maxWillDelaySec) : null,
  });
  ch.session = session;
  ch.cleanStart = c.clean !== false;
  ch.state = 'connected';
  ch.connectedAt = Date.now();

  if (v5) {
    const cp: Record<string, unknown> = {
      receiveMaximum: Math.min(cfg.maxAwaitingRel, 65535),
      maximumPacketSize: cfg.maxPacketSize,
      topicAliasMaximum: Math.min(cfg.maxTopicAlias, 65535),
    };
    if (cfg.maxQosAllowed < 2) cp.maximumQoS = cfg.maxQosAllowed;
    if (!cfg.retainAvailable) cp.retainAvailable = false;
    if (!cfg.wildcardSubscription) cp.wildcardSubscriptionAvailable = false;
    if (!cfg.sharedSubscription) cp.sharedSubscriptionAvailable = false;
    if (assigned) cp.assignedClientIdentifier = clientId;
    if (expiryCapped) cp.sessionExpiryInterval = expiry;
    if (cfg.serverKeepalive !== null) cp.serverKeepAlive = cfg.serverKeepalive;
    // [MQTT-3.1.2-28] Response Information only when the client asked for it
    if (props.requestResponseInformation === true && cfg.responseInformation !== '') cp.responseInformation = cfg.responseInformation;
    if (ch.authMethod !== null) { cp.authenticationMethod = ch.authMethod; if (authData) cp.authenticationData = authData; }
    ch.sendPacket({ cmd: 'connack', sessionPresent: present, reasonCode: 0, properties: cp } as Packet);
  } else {
    ch.send(present ? CONNACK_V3_PRESENT : CONNACK_V3_NEW);
  }
  ch.count('packets.connack.sent');
  ch.count('client.connack');
  if (b.hooks.active('client.connack')) b.hooks.run('client.connack', ch.info, 'success', { keepalive: ch.keepalive, cleanStart: ch.cleanStart, expiryInterval: expiry, connectedAt: ch.connectedAt });
  ch.clients.activate(ch, session, { receiveMaximum: v5 ? (props.receiveMaximum ?? 65535) : 65535, resendOnLive: !v5 });
  if (ch.log.isLevelEnabled?.('debug') !== false) ch.log.debug({ clientid: clientId, peer: ch.peer(), proto: ch.protocolVersion, clean: c.clean, keepalive: ch.keepalive, present }, 'client connected');
  ch.releaseHeld();
}


/** `client.check_authn_complete` (EMQX's reason names; anonymous: no authenticator decided). */
function authnComplete(ch: Channel, reasonCode: string, isAnonymous: boolean): void {
  const h = ch.broker.hooks;
  if (ch.traced) ch.broker.trace!.authn(ch, reasonCode, isAnonymous);
  if (h.active('client.check_authn_complete')) h.run('client.check_authn_complete', ch.info, { reasonCode, isSuperuser: ch.info.isSuperuser, isAnonymous });
}
