/**
 * MQTT-SN topic ids (spec 5.3.11 and 6.10): a PUBLISH names its topic by a two-octet id, of
 * one of three kinds (TopicIdType):
 *
 *   normal      an id the gateway assigned to a topic name for this client, through REGISTER
 *               (client → gateway) or REGACK to the gateway's own REGISTER (for messages that
 *               reach the client through a wildcard subscription) or SUBACK of a topic name
 *   predefined  an id both sides know in advance (gateway.mqttsn.predefined), the same for
 *               every client; never registered
 *   short       a two-character topic name carried in the id field itself
 *
 * A registry per client maps normal ids both ways; ids are assigned from 1025 up, above the
 * range EMQX reserves for predefined ones, so the two never look alike in logs.
 */
import { idToShortName, shortNameToId, TOPIC, type TopicIdType } from './codec.js';
import { MAX_PREDEFINED_ID } from '../config.js';

/** Shared by every client of a gateway: the predefined topics, both ways. */
export class PredefinedTopics {
  private readonly byId = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  constructor(list: ReadonlyArray<{ id: number; topic: string }>) {
    for (const { id, topic } of list) { this.byId.set(id, topic); this.byName.set(topic, id); }
  }
  name(id: number): string | undefined { return this.byId.get(id); }
  id(name: string): number | undefined { return this.byName.get(name); }
}

/** How an outgoing PUBLISH names its topic; 'register' when the client must learn an id first. */
export type Outgoing = { type: TopicIdType; id: number } | { type: 'register'; name: string };

export class TopicRegistry {
  private readonly byId = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  private next = MAX_PREDEFINED_ID + 1;
  readonly predefined: PredefinedTopics;
  /** Most topics one client may register (EMQX: limited too; beyond it REGACK says congestion). */
  private readonly max: number;

  constructor(predefined: PredefinedTopics, max = 4096) {
    this.predefined = predefined;
    this.max = max;
  }

  get size(): number { return this.byId.size; }

  /** The id of a topic name, assigned if new; -1 when the registry is full. */
  register(name: string): number {
    const have = this.byName.get(name);
    if (have !== undefined) return have;
    if (this.byId.size >= this.max) return -1;
    while (this.byId.has(this.next) || this.next === 0 || this.next === 0xffff) this.next = this.next >= 0xfffe ? MAX_PREDEFINED_ID + 1 : this.next + 1;
    const id = this.next++;
    this.byId.set(id, name);
    this.byName.set(name, id);
    return id;
  }

  /** The gateway assigned `id` in its own REGISTER and the client accepted it. */
  bind(id: number, name: string): void { this.byId.set(id, name); this.byName.set(name, id); }

  forget(name: string): void {
    const id = this.byName.get(name);
    if (id === undefined) return;
    this.byName.delete(name);
    this.byId.delete(id);
  }

  /** The topic name a PUBLISH (or SUBSCRIBE) names, or undefined for an unknown id. */
  resolve(type: TopicIdType, id: number): string | undefined {
    if (type === TOPIC.NORMAL) return this.byId.get(id);
    if (type === TOPIC.PREDEFINED) return this.predefined.name(id);
    return idToShortName(id);
  }

  /** How to name `name` in a PUBLISH to the client: predefined, short, registered, or to register. */
  outgoing(name: string): Outgoing {
    const p = this.predefined.id(name);
    if (p !== undefined) return { type: TOPIC.PREDEFINED, id: p };
    const s = name.length === 2 ? shortNameToId(name) : -1;
    if (s >= 0) return { type: TOPIC.SHORT, id: s };
    const n = this.byName.get(name);
    if (n !== undefined) return { type: TOPIC.NORMAL, id: n };
    return { type: 'register', name };
  }
}
