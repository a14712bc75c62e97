/**
 * The rule engine: rules from the config file and the REST API, run on published messages and
 * `$events/…` off the publish path.
 *
 * Cost model. With no enabled rule reading messages the engine has no `message.publish` callback
 * at all, so the broker's `hooks.active()` check is the whole cost. With rules, the callback walks
 * a trie of their FROM filters (topic-index.ts); only when some rule matches does it do more:
 * - a message of at most INLINE_MAX payload bytes is evaluated in a microtask right after the
 *   callback that published it returns — so after its delivery, within the same turn (only the columns the SQL
 *   reads are built; `payload.<field>` of a flat JSON object is read by one pass over its bytes,
 *   sql/json-scan.ts; other JSON is decoded once per message for all rules): evaluating a WHERE
 *   costs less than queueing the message, and a message kept until a later turn outlives the
 *   young generation and makes the garbage collector the main cost (measured: bench `rules`);
 * - a bigger message (its SQL could take long) is queued and evaluated on a later turn.
 * Actions always run on a later turn, from a bounded dispatch of the rule outputs that passed:
 * nothing slow (a republish, a sink) runs inside publish. A full queue drops and counts
 * (`dropped`), the publisher never waits. Events come through the hooks' `addAsync` (events.ts).
 *
 * Every change (create, update, enable, delete) rebuilds the index and the hook callbacks, so it
 * applies to the next message, without a restart.
 */
import type { Hooks } from '../hooks.js';
import type { Logger } from '../log.js';
import type { Message, PublishProperties, QoS } from '../types.js';
import type { ClientConnection } from '../clients/client-manager.js';
import { BoundedDispatch } from '../util/bounded-dispatch.js';
import { messageColumns, columnNeeds, type CompiledRule, type EventName, type Columns } from './sql/index.js';
import { buildAction, republishedBy, type Action, type ActionDeps } from './actions.js';
import { compileSql, parseRuleSpec, specToRaw, validRuleId, type ActionSpec, type RuleSpec } from './rule-config.js';
import { newRuleMetrics, RULE_COUNTERS, type RuleMetrics } from './metrics.js';
import { TopicIndex } from './topic-index.js';
import { feedEvents } from './events.js';
import { testRule, type RuleTestResult } from './rule-test.js';

export interface RuleEngineDeps {
  hooks: Hooks;
  log: Logger;
  node: string;
  connection(clientId: string): ClientConnection | undefined;
  /** Publishes a message made by the broker itself (from ''). */
  publish(msg: Message): void;
  newMessage(topic: string, payload: Buffer, qos: QoS, retain: boolean, props: PublishProperties | null): Message;
  validTopic(topic: string): boolean;
  /** Most messages and events waiting for evaluation (each queue). */
  maxQueue?: number;
  /** Where rules changed through REST are kept across restarts (the node's store). */
  saved?: RuleStore;
  /** The data-integration actions ("http:my_hook") rules can name. */
  sinks?: RuleSinks;
}

/** What the engine needs of data integration (rules/connectors/integration.ts). */
export interface RuleSinks {
  hasAction(id: string): boolean;
  /** Queues one output; throws when the action cannot take it. The outcome comes back through RuleEngine.report(). */
  submit(id: string, output: Record<string, unknown>, ruleId: string): void;
}

/**
 * Rules written through REST, by id, as their specs. On a cluster the writes go to etcd (a
 * promise) and `watch` brings other nodes' changes: every node runs every rule.
 */
export interface RuleStore {
  all(): Iterable<[string, unknown]>;
  put(id: string, spec: unknown): void | Promise<void>;
  del(id: string): void | Promise<void>;
  /** Changes made elsewhere (another node): the rule's spec now, undefined when deleted. Returns the remover. */
  watch?(fn: (id: string, spec: unknown) => void): () => void;
}

interface LiveRule {
  spec: RuleSpec;
  compiled: CompiledRule;
  actions: Action[];
  metrics: RuleMetrics;
  createdAt: number;
  /** The costly message columns its SQL reads (sql/context.ts columnNeeds). */
  needs: number;
}

export type RuleChange = { ok: true; rule: RuleSpec } | { ok: false; status: 400 | 404 | 409; error: string };

interface Queued { msg: Message; rules: readonly LiveRule[]; publisher: ReturnType<RuleEngineDeps['connection']> }
/** A rule's outputs waiting for its actions. */
interface Passed { rule: LiveRule; outputs: Array<Record<string, unknown>>; by: string | undefined }

/** Payloads up to this size are evaluated inside publish; bigger ones on a later turn. */
export const INLINE_MAX = 16 * 1024;

export class RuleEngine {
  private readonly rules = new Map<string, LiveRule>();
  private index = new TopicIndex<LiveRule>();
  private byEvent = new Map<EventName, LiveRule[]>();
  private byBridge = new Map<string, LiveRule[]>();
  private removeHook: (() => void) | null = null;
  private events: { dropped: () => number; remove: () => void } | null = null;
  private eventsDroppedBefore = 0;
  private stopped = false;
  private unwatch: (() => void) | null = null;
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly messages: BoundedDispatch<Queued>;
  private readonly passed: BoundedDispatch<Passed>;
  private readonly actionDeps: ActionDeps;
  private readonly onPublish: (msg: Message) => undefined;

  constructor(private readonly deps: RuleEngineDeps) {
    this.messages = new BoundedDispatch<Queued>((q) => this.runMessage(q), {
      maxQueue: deps.maxQueue ?? 100_000,
      onError: (err) => deps.log.error({ err }, 'rule evaluation failed'),
    });
    this.passed = new BoundedDispatch<Passed>((p) => this.runActions(p), {
      maxQueue: deps.maxQueue ?? 100_000,
      onError: (err) => deps.log.error({ err }, 'rule actions failed'),
    });
    this.actionDeps = {
      log: deps.log,
      publish: (topic, payload, qos, retain, props, ruleId) => {
        if (!deps.validTopic(topic)) throw new Error(`republish: '${topic}' is not a valid topic name`);
        const msg = deps.newMessage(topic, payload, qos, retain, props);
        republishedBy.set(msg, ruleId);
        deps.publish(msg);
      },
    };
    this.onPublish = (msg) => {
      const matched = this.index.match(msg.topic);
      // EMQX's rule_engine.ignore_sys_message (default true): $SYS messages feed no rule.
      if (matched.length === 0 || msg.topic.startsWith('$SYS/')) return undefined;
      const publisher = msg.from === '' ? undefined : deps.connection(msg.from);
      if (msg.payload.length > INLINE_MAX) { this.messages.push({ msg, rules: matched, publisher }); return undefined; }
      this.soon.push({ msg, rules: matched, publisher });
      if (!this.soonScheduled) { this.soonScheduled = true; queueMicrotask(this.drainSoon); }
      return undefined;
    };
  }

  /**
   * Loads the rules saved through REST, then the config file's (already checked by the config
   * schema): a config rule wins over a saved one with its id, as emqx.conf wins over cluster.hocon.
   */
  load(specs: readonly RuleSpec[]): void {
    this.unwatch = this.deps.saved?.watch?.((id, spec) => this.remote(id, spec)) ?? null;
    for (const [id, raw] of this.deps.saved?.all() ?? []) {
      const p = parseRuleSpec(id, raw, `saved rule '${id}'`);
      const bad = p.ok ? this.unknownSink(p.value, `saved rule '${id}'`) : p.error;
      if (p.ok && bad === null) this.rules.set(id, this.live(p.value));
      else this.deps.log.error({ rule_id: id, err: bad }, 'saved rule refused; skipped');
    }
    for (const s of specs) {
      const bad = this.unknownSink(s, `rule_engine.rules.${s.id}`);
      if (bad !== null) throw new Error(bad);
      this.rules.set(s.id, this.live(s));
    }
    this.rebuild();
  }

  /** Messages and events dropped because the evaluation queue was full. */
  get dropped(): number {
    return this.messages.dropped + this.passed.dropped + this.eventsDroppedBefore + (this.events?.dropped() ?? 0);
  }

  /** Messages waiting for evaluation, and rule outputs waiting for their actions. */
  get pending(): number { return this.messages.size + this.passed.size; }

  list(): RuleSpec[] { return [...this.rules.values()].map((r) => r.spec); }
  get(id: string): { spec: ReturnType<typeof specToRaw>; from: readonly string[]; createdAt: number } | null {
    const r = this.rules.get(id);
    return r === undefined ? null : { spec: specToRaw(r.spec), from: r.compiled.from, createdAt: r.createdAt };
  }
  metrics(id: string): RuleMetrics | null { return this.rules.get(id)?.metrics ?? null; }
  resetMetrics(id: string): boolean {
    const r = this.rules.get(id);
    if (r === undefined) return false;
    r.metrics = newRuleMetrics();
    return true;
  }
  allMetrics(): Array<{ id: string; metrics: RuleMetrics }> {
    return [...this.rules.values()].map((r) => ({ id: r.spec.id, metrics: r.metrics }));
  }

  /** POST /rules: `id` absent → a new one (EMQX: `rule_` + random). */
  create(body: Record<string, unknown>): RuleChange {
    const id = typeof body.id === 'string' && body.id !== '' ? body.id : `rule_${Math.random().toString(16).slice(2, 10)}`;
    if (!validRuleId(id)) return { ok: false, status: 400, error: `id '${id}': use letters, digits, '_', '-', '.' and ':'` };
    if (this.rules.has(id)) return { ok: false, status: 409, error: `rule '${id}' already exists` };
    const { id: _drop, ...rest } = body;
    const p = parseRuleSpec(id, rest, 'rule');
    if (!p.ok) return { ok: false, status: 400, error: p.error };
    const bad = this.unknownSink(p.value, 'rule');
    if (bad !== null) return { ok: false, status: 400, error: bad };
    this.rules.set(id, this.live(p.value));
    this.persist(id, p.value);
    this.rebuild();
    return { ok: true, rule: p.value };
  }

  /** PUT /rules/{id}: the fields given replace the rule's; the metrics stay. */
  update(id: string, body: Record<string, unknown>): RuleChange {
    const cur = this.rules.get(id);
    if (cur === undefined) return { ok: false, status: 404, error: `no rule '${id}'` };
    const { id: _drop, ...rest } = body;
    const s = cur.spec;
    const merged = { sql: s.sql, actions: specToRaw(s).actions, enable: s.enable, description: s.description, name: s.name, ...rest };
    const p = parseRuleSpec(id, merged, 'rule');
    if (!p.ok) return { ok: false, status: 400, error: p.error };
    const bad = this.unknownSink(p.value, 'rule');
    if (bad !== null) return { ok: false, status: 400, error: bad };
    const next = this.live(p.value);
    next.metrics = cur.metrics;
    next.createdAt = cur.createdAt;
    this.rules.set(id, next);
    this.persist(id, p.value);
    this.rebuild();
    return { ok: true, rule: p.value };
  }

  delete(id: string): boolean {
    if (!this.rules.delete(id)) return false;
    this.persist(id, undefined);
    this.rebuild();
    return true;
  }

  /** POST /rule_test: runs `sql` on a sample context; nothing is published and no metric moves. */
  test(sql: string, context: Record<string, unknown>): RuleTestResult {
    return testRule(sql, context, this.deps.node);
  }

  /** Removes every callback; messages and events still queued are not evaluated. */
  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    this.unhook();
  }

  private unhook(): void {
    this.removeHook?.();
    this.removeHook = null;
    if (this.events !== null) { this.eventsDroppedBefore += this.events.dropped(); this.events.remove(); this.events = null; }
  }

  /** An action's final outcome, from data integration (EMQX counts these when the reply comes). */
  report(ruleId: string, outcome: 'success' | 'failed'): void {
    const m = this.rules.get(ruleId)?.metrics;
    if (m === undefined) return;
    if (outcome === 'success') m['actions.success']++;
    else { m['actions.failed']++; m['actions.failed.unknown']++; }
  }

  /** The rules whose actions name this data-integration action. */
  rulesUsing(actionId: string): string[] {
    return [...this.rules.values()].filter((r) => r.spec.actions.some((a) => a.function === 'sink' && a.id === actionId)).map((r) => r.spec.id);
  }

  /** A message from a data-integration source, for the rules that select from `$bridges/<type>:<name>`. */
  bridgeMessage(bridge: string, cols: Record<string, unknown>): void {
    if (this.stopped) return;
    const rules = this.byBridge.get(bridge);
    if (rules === undefined) return;
    const c = { event: bridge, node: this.deps.node, ...cols } as Columns;
    for (const r of rules) this.apply(r, c, undefined);
  }

  private unknownSink(spec: RuleSpec, where: string): string | null {
    for (let i = 0; i < spec.actions.length; i++) {
      const a = spec.actions[i]!;
      if (a.function === 'sink' && this.deps.sinks?.hasAction(a.id) !== true) {
        return `${where}.actions[${i}]: no action '${a.id}' (define it under actions.${a.id.replace(':', '.')} or POST /api/v5/actions)`;
      }
    }
    return null;
  }

  /** Saves a change; a cluster write that fails is logged (the shared store takes it back and says so through watch). */
  private persist(id: string, spec: RuleSpec | undefined): void {
    const saved = this.deps.saved;
    if (saved === undefined) return;
    const w = spec === undefined ? saved.del(id) : saved.put(id, specToRaw(spec));
    if (!(w instanceof Promise)) return;
    w.catch((err: Error) => this.deps.log.error({ rule_id: id, err: err.message }, 'rule change not stored cluster-wide; taken back on this node'));
    this.lastWrite = w;
  }

  /** Settles when the last change is stored (in etcd on a cluster); rejects when it could not be. */
  stored(): Promise<void> { return this.lastWrite; }

  /** Another node created, changed or deleted a rule (or a write of ours was taken back). */
  private remote(id: string, raw: unknown): void {
    if (this.stopped) return;
    const cur = this.rules.get(id);
    if (raw === undefined) { if (cur !== undefined) { this.rules.delete(id); this.rebuild(); } return; }
    const p = parseRuleSpec(id, raw, `rule '${id}' from the cluster`);
    if (!p.ok) { this.deps.log.error({ rule_id: id, err: p.error }, 'rule from the cluster refused; skipped'); return; }
    if (cur !== undefined && JSON.stringify(cur.spec) === JSON.stringify(p.value)) return;
    const next = this.live(p.value);
    if (cur !== undefined) { next.metrics = cur.metrics; next.createdAt = cur.createdAt; }
    this.rules.set(id, next);
    this.rebuild();
  }

  private live(spec: RuleSpec): LiveRule {
    const compiled = compileSql(spec.sql);
    return {
      spec, compiled, actions: spec.actions.map((a) => this.action(a)), metrics: newRuleMetrics(), createdAt: Date.now(),
      needs: columnNeeds(compiled.reads),
    };
  }

  private action(a: ActionSpec): Action {
    if (a.function !== 'sink') return buildAction(a, this.actionDeps);
    const sinks = this.deps.sinks;
    const id = a.id;
    return (output, env) => {
      if (sinks === undefined) throw new Error(`no action '${id}'`);
      sinks.submit(id, output, env.ruleId);
      return 'deferred';
    };
  }

  private rebuild(): void {
    if (this.stopped) return;
    this.unhook();
    const index = new TopicIndex<LiveRule>();
    const byEvent = new Map<EventName, LiveRule[]>();
    const byBridge = new Map<string, LiveRule[]>();
    for (const r of this.rules.values()) {
      if (!r.spec.enable) continue;
      for (const b of r.compiled.bridges) byBridge.set(b, [...(byBridge.get(b) ?? []), r]);
      for (const t of r.compiled.topics) index.add(t, r);
      for (const e of r.compiled.events) {
        const l = byEvent.get(e) ?? [];
        l.push(r);
        byEvent.set(e, l);
      }
    }
    this.index = index;
    this.byEvent = byEvent;
    this.byBridge = byBridge;
    // Lowest priority: rules see the message after every other callback may have rewritten it.
    if (index.size > 0) this.removeHook = this.deps.hooks.add('message.publish', this.onPublish, -1000);
    if (byEvent.size > 0) {
      this.events = feedEvents(this.deps.hooks, new Set(byEvent.keys()), { node: this.deps.node, connection: this.deps.connection },
        this.deps.maxQueue ?? 100_000, (e, cols) => { if (!this.stopped) for (const r of this.byEvent.get(e) ?? []) this.apply(r, cols, undefined); });
    }
  }

  private runMessage(q: Queued): void {
    if (!this.stopped) this.evaluate(q.msg, q.rules, q.publisher, false);
  }

  /** Runs the SQL of `rules` on a message; `inline`: inside publish, so the actions are queued. */
  /**
   * Small messages matched during this turn, evaluated in a microtask once the callback that
   * published them returns — after the broker handed them to their subscribers (delivery never
   * waits on SQL), yet before the turn ends, so they die young (see the file comment).
   */
  private soon: Queued[] = [];
  private soonSpare: Queued[] = [];
  private soonScheduled = false;
  private readonly drainSoon = (): void => {
    this.soonScheduled = false;
    const q = this.soon;
    this.soon = this.soonSpare;
    for (let i = 0; i < q.length; i++) { const x = q[i]!; if (!this.stopped) this.evaluate(x.msg, x.rules, x.publisher, true); }
    q.length = 0;
    this.soonSpare = q;
  };

  private evaluate(msg: Message, rules: readonly LiveRule[], conn: ReturnType<RuleEngineDeps['connection']>, inline: boolean): void {
    const publisher = conn?.info ?? null;
    let needs = 0;
    for (let i = 0; i < rules.length; i++) needs |= rules[i]!.needs;
    // Inside publish the message was received this very turn: its time is the event's.
    const cols = messageColumns(msg, publisher, this.deps.node, inline ? msg.timestamp : Date.now(), needs);
    // A will, or a client gone before the hand-off: its id is still known from the message.
    if (publisher === null && msg.from !== '') cols.clientid = msg.from;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      // A rule disabled or deleted while the message waited does not run.
      if (!inline && (this.rules.get(r.spec.id) !== r || !r.spec.enable)) continue;
      const outputs = this.run(r, cols);
      if (outputs === null) continue;
      const by = republishedBy.get(msg);
      if (inline) this.passed.push({ rule: r, outputs, by });
      else this.act(r, outputs, by);
    }
  }

  private runActions(p: Passed): void {
    if (this.stopped || this.rules.get(p.rule.spec.id) !== p.rule || !p.rule.spec.enable) return;
    this.act(p.rule, p.outputs, p.by);
  }

  private apply(r: LiveRule, cols: Columns, by: string | undefined): void {
    const outputs = this.run(r, cols);
    if (outputs !== null) this.act(r, outputs, by);
  }

  /** The SQL over one context, counted: the outputs when it passed, else null. */
  private run(r: LiveRule, cols: Columns): Array<Record<string, unknown>> | null {
    const m = r.metrics;
    m.matched++;
    const out = r.compiled.run(cols);
    if (out.status === 'failed') {
      m['failed.exception']++;
      m.failed++;
      this.deps.log.warn({ rule_id: r.spec.id, clause: out.error.clause, err: out.error.message }, 'rule SQL failed');
      return null;
    }
    if (out.status === 'no_result') { m['failed.no_result']++; m.failed++; return null; }
    m.passed++;
    return out.outputs;
  }

  private act(r: LiveRule, outputs: ReadonlyArray<Record<string, unknown>>, by: string | undefined): void {
    const m = r.metrics;
    const env = { ruleId: r.spec.id, republishedBy: by };
    for (const o of outputs) {
      for (const a of r.actions) {
        m['actions.total']++;
        try {
          if (a(o, env) !== 'deferred') m['actions.success']++;
        } catch (err) {
          m['actions.failed']++;
          m['actions.failed.unknown']++;
          this.deps.log.warn({ rule_id: r.spec.id, err: (err as Error).message }, 'rule action failed');
        }
      }
    }
  }
}

export { RULE_COUNTERS };
