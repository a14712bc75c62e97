/**
 * EMQX's connection resource, `/mqtt/connection`: `POST ?clientid=&username=&password=` makes
 * the peer a client (access chain, session) and answers 2.01 Created with a token; `PUT
 * ?clientid=&token=` is a heartbeat (2.04); `DELETE ?clientid=&token=` ends the client (2.02).
 *
 * With `connection_required`, every other request must carry the clientid and token: without
 * them 4.00, with a wrong token 4.01. A clientid and token of a client connected from another
 * address:port move that client here (EMQX's takeover with token: a NAT rebinding keeps the
 * session).
 */
import type { CoapChannel } from './channel.js';
import { uriQuery, type CoapMessage } from './message.js';

export function handleConnection(ch: CoapChannel, m: CoapMessage, method: string): void {
  const q = uriQuery(m);
  switch (method) {
    case 'POST': open(ch, m, q); return;
    case 'PUT': {
      const who = ch.shared.cfg.connectionRequired ? needsToken(ch, m) : ch;
      if (who !== null) who.reply(m, { code: '2.04' });
      return;
    }
    case 'DELETE': {
      // A DELETE with a token closes that client wherever it connected from (each coap-client
      // run is a new port); without one, from a peer holding no connection, it is 2.02 as in EMQX.
      const who = ch.shared.cfg.connectionRequired && (ch.state === 'connected' || q.has('token')) ? needsToken(ch, m) : ch;
      if (who === null) return;
      who.ctx.broker.metrics.counters['packets.disconnect.received']++;
      who.reply(m, { code: '2.02' });
      if (who.state === 'connected') who.close('normal', false);
      return;
    }
    default: ch.reply(m, { code: '4.05', payload: 'method not allowed' });
  }
}

function open(ch: CoapChannel, m: CoapMessage, q: Map<string, string>): void {
  const clientId = q.get('clientid');
  if (clientId === undefined) { ch.reply(m, { code: '4.00', payload: 'clientid is required' }); return; }
  if (ch.state === 'connected') {
    // The 2.01 was lost and the client asks again: the same client gets the same token.
    if (clientId === ch.claimedId) ch.reply(m, { code: '2.01', payload: ch.token! });
    else ch.reply(m, { code: '4.00', payload: `already connected as ${ch.claimedId}; DELETE that connection first` });
    return;
  }
  if (ch.state !== 'idle') { ch.reply(m, { code: '4.00', payload: 'a connection is being opened' }); return; }
  ch.connect(clientId, q.get('username') ?? null, q.get('password') ?? null).then((err) => {
    if (err !== null) ch.reply(m, { code: err.code, payload: err.message });
    else ch.reply(m, { code: '2.01', payload: ch.token! });
  }, (err) => {
    ch.ctx.log.error({ err, clientid: clientId }, 'CoAP connection failed');
    if (ch.state === 'auth') ch.state = 'idle';
    ch.reply(m, { code: '5.00', payload: 'the session could not be opened' });
  });
}

/**
 * Connection mode: the channel that serves a request carrying `clientid` and `token` — this
 * one, or the client's own moved here — or null once a refusal has been answered.
 */
export function needsToken(ch: CoapChannel, m: CoapMessage): CoapChannel | null {
  const q = uriQuery(m);
  const clientId = q.get('clientid');
  const token = q.get('token');
  if (clientId === undefined || token === undefined) {
    ch.reply(m, { code: '4.00', payload: 'Missing token or clientid in connection mode' });
    return null;
  }
  if (ch.state === 'connected' && clientId === ch.claimedId) {
    if (token === ch.token) return ch;
    ch.ctx.metrics.denied++;
    ch.reply(m, { code: '4.01', payload: 'Invalid token or clientid in connection mode' });
    return null;
  }
  const moved = ch.state === 'idle' ? ch.shared.adopt(ch, clientId, token) : null;
  if (moved !== null) return moved;
  ch.ctx.metrics.denied++;
  ch.reply(m, { code: '4.01', payload: 'Invalid token or clientid in connection mode' });
  return null;
}
