/**
 * `--pin GEN/BROKER`: the load generator (coordinator and workers) on one set of CPUs, every
 * broker-side process (the broker, both nodes of petrel-cluster, their etcd, petrel-relay's relay)
 * on another, with taskset(1) on every thread of each process tree. On a 2-core machine
 * `--pin 0/1` keeps the generator from taking the brokers' core at the moments that make a
 * latency tail, and gives every broker setup the same single core.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { processTree } from './proc-stat.js';

export interface Pinning {
  gen: string;
  broker: string;
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** Parses "0/1" or "0-3/4-7"; throws with the expected form. */
export function parsePin(v: string): Pinning {
  const [gen, broker, ...rest] = v.split('/');
  if (rest.length || !gen || !broker || !CPU_LIST.test(gen) || !CPU_LIST.test(broker)) {
    throw new Error(`--pin wants GEN/BROKER CPU lists, e.g. 0/1 or 0-1/2-3 (got "${v}")`);
  }
  return { gen, broker };
}

/** Pins each process (and its descendants, every thread) to `cpus`; throws if taskset fails. */
export function pinProcesses(pids: number[], cpus: string): void {
  for (const root of pids) {
    if (root <= 0) continue;
    for (const pid of processTree(root)) {
      try {
        execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
      } catch (e) {
        // A process that ended in between is no reason to stop; anything else is.
        if (existsSync(`/proc/${pid}`)) throw new Error(`taskset -c ${cpus} on pid ${pid} failed: ${(e as Error).message}`);
      }
    }
  }
}
