/**
 * A real Apache Kafka for tests: one KRaft node that is both broker and controller, run with the
 * machine's Java 17 from the Maven Central jars that scripts/kafka-jars.sh caches under
 * ~/.cache/petrel-kafka/<version>/libs (fetched on first use when `make test` has not already).
 *
 * It listens on 127.0.0.1 only, on free ports: PLAINTEXT (`port`), SASL_PLAINTEXT (`saslPort`,
 * PLAIN and SCRAM-SHA-256/512 for KAFKA_USER / KAFKA_PASSWORD), with `tls` also SSL (`sslPort`,
 * the certificate and key as a PEM keystore), and its controller port; its log dir is a temp dir. `down()` stops the JVM keeping ports and data, `up()` starts it again on
 * both, `stop()` ends it and removes the temp dir.
 *
 * The JVM is kept small (256 MB heap, serial GC, C1 only): a start takes ~3 s on 2 cores.
 * When Maven Central cannot be reached the jars cannot exist: `kafkaJars()` then returns a skip
 * reason and the Kafka tests say so; every other failure (no Java, a broken start) fails them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './etcd-cluster.js';

export const KAFKA_USER = 'petrel';
export const KAFKA_PASSWORD = 'petrel-secret';

export interface TestKafka {
  host: string;
  /** PLAINTEXT listener. */
  port: number;
  /** SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
  saslPort: number;
  /** SSL listener when started with `tls`, else 0. */
  sslPort: number;
  /** `127.0.0.1:<port>`, as EMQX's `bootstrap_hosts` takes it. */
  bootstrap: string;
  /** Milliseconds the last start (format + JVM start until "Kafka Server started") took. */
  startMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('kafka: no package.json above ' + fileURLToPath(import.meta.url));
}

let jars: { libs: string } | { skip: string } | null = null;

/** The jar directory, fetching it once per machine; `{skip}` only when Maven Central is unreachable. */
export function kafkaJars(): { libs: string } | { skip: string } {
  if (jars !== null) return jars;
  const r = spawnSync('bash', [path.join(repoRoot(), 'scripts', 'kafka-jars.sh'), '--print-dir'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status === 0) jars = { libs: r.stdout.trim() };
  else if (r.status === 2) jars = { skip: `Kafka jars not cached and Maven Central unreachable: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  else throw new Error(`scripts/kafka-jars.sh failed (exit ${r.status ?? r.signal}):\n${r.stderr.slice(-3000)}`);
  return jars;
}

const LOG4J = `status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.ready.name = kafka.server.KafkaRaftServer
logger.ready.level = info
`;

/** A server certificate and key (PEM files; the key unencrypted PKCS#8) for the SSL listener. */
export interface KafkaTls { certFile: string; keyFile: string }

function properties(dir: string, port: number, saslPort: number, ctlPort: number, ssl: { port: number; keystore: string } | null): string {
  const sslListener = ssl ? `,SSL://127.0.0.1:${ssl.port}` : '';
  const scram = (m: string): string => `listener.name.sasl_plaintext.${m}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${ctlPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${ctlPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}${sslListener}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort}${sslListener}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
    ...(ssl ? ['listener.name.ssl.ssl.keystore.type=PEM', `listener.name.ssl.ssl.keystore.location=${ssl.keystore}`, 'listener.name.ssl.ssl.client.auth=none'] : []),
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${KAFKA_USER}="${KAFKA_PASSWORD}";`,
    scram('scram-sha-256'), scram('scram-sha-512'),
    `log.dirs=${path.join(dir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    '',
  ].join('\n');
}

function java(libs: string, dir: string, args: string[]): [string, string[]] {
  return ['java', ['-Xmx256m', '-Xms64m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(dir, 'log4j2.properties')}`, '-cp', path.join(libs, '*'), ...args]];
}

/** Starts the broker; throws when the jars are missing (call kafkaJars() first to skip instead). */
export async function startKafka(opts: { tls?: KafkaTls } = {}): Promise<TestKafka> {
  const j = kafkaJars();
  if ('skip' in j) throw new Error(j.skip);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-kafka-'));
  const conf = path.join(dir, 'server.properties');
  const [port, saslPort, ctlPort] = [await freePort(), await freePort(), await freePort()];
  const sslPort = opts.tls ? await freePort() : 0;
  let proc: ChildProcess | null = null;
  let out = '';
  let startMs = 0;
  writeFileSync(path.join(dir, 'log4j2.properties'), LOG4J);
  let ssl: { port: number; keystore: string } | null = null;
  if (opts.tls) {
    // Kafka's PEM keystore: the private key and the certificate chain in one file.
    ssl = { port: sslPort, keystore: path.join(dir, 'keystore.pem') };
    writeFileSync(ssl.keystore, readFileSync(opts.tls.keyFile, 'utf8') + readFileSync(opts.tls.certFile, 'utf8'));
  }
  writeFileSync(conf, properties(dir, port, saslPort, ctlPort, ssl));

  const format = (): void => {
    // A cluster id is 16 random bytes in URL-safe base64 without padding (what `random-uuid` prints);
    // like Kafka's own Uuid.randomUuid, never one starting with '-', which the tool's argument parser
    // takes for an option (1 start in 64 failed with "--cluster-id: expected one argument").
    let id = randomBytes(16).toString('base64url');
    while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
    const scram = ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${KAFKA_USER},password=${KAFKA_PASSWORD}]`]);
    const [cmd, args] = java(j.libs, dir, ['kafka.tools.StorageTool', 'format', '-t', id, '-c', conf, ...scram]);
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`kafka storage format failed (exit ${r.status ?? r.signal}): ${r.error?.message ?? ''}\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  const up = async (): Promise<void> => {
    const t0 = Date.now();
    const [cmd, args] = java(j.libs, dir, ['kafka.Kafka', conf]);
    out = '';
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        out += d;
        if (out.includes('Kafka Server started')) resolve();
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      p.once('error', (err) => reject(new Error(`kafka: cannot run java: ${err.message} (apt-get install -y openjdk-17-jre-headless)`)));
      p.once('exit', (code, sig) => reject(new Error(`kafka exited during start (${code ?? sig}):\n${out.slice(-3000)}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`kafka did not start within 90 s:\n${out.slice(-3000)}`)), 90_000); });
    try { await Promise.race([ready, timeout]); } catch (err) { p.kill('SIGKILL'); throw err; } finally { clearTimeout(timer); }
    startMs = Date.now() - t0;
  };

  const down = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    // A single KRaft node shuts down cleanly in a second or two; SIGKILL is the backstop.
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  };

  const t0 = Date.now();
  try {
    format();
    await up();
  } catch (err) {
    await down();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  startMs = Date.now() - t0;
  return {
    host: '127.0.0.1', port, saslPort, sslPort, bootstrap: `127.0.0.1:${port}`,
    get startMs() { return startMs; },
    down, up,
    async stop() { await down(); rmSync(dir, { recursive: true, force: true }); },
  };
}
