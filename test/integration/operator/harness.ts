/**
 * Small helpers the operator tests share: the repository root, polling, the examples, conditions.
 * The controller tests themselves run on a real control plane (test/integration/operator-real/).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('no package.json above ' + fileURLToPath(import.meta.url));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 25ms until it returns a truthy value; fails with `what` after `ms`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, ms = 8000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}

export function loadExample(name: string): any {
  return yaml.load(readFileSync(path.join(repoRoot(), 'examples', name), 'utf8'));
}

export function condition(cr: any, type: string): any {
  return cr?.status?.conditions?.find((c: any) => c.type === type);
}
