/**
 * Optional dependencies loaded on first use. A fresh node configured with no Kafka, Redis, SQL,
 * etcd or JWT would otherwise load every client library at start: measured one at a time, each
 * adds 3–33 MB of resident memory (code, source strings, the garbage of compiling it), ≈ 60 MB
 * together (docs/performance.md, "Memory"). `require` (not `import()`) keeps the callers
 * synchronous: the clients are built in constructors. Node ≥ 20.19 also loads ES modules this way.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** A function returning the module `id`, loaded on its first call and kept. */
export function lazyModule<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= load(id) as T);
}
