/**
 * Spawning test/support/store-crash-child from a test, whether the tests run from TypeScript
 * sources (tsx) or from dist/: the repo root is found by walking up to package.json, and a
 * .ts test runs the .ts child through tsx while a .js test runs the compiled child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = path.dirname(from);
  for (let i = 0; i < 20; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`no package.json above ${from}`);
}

/** Start the store child with `args`; `testFile` is the calling test's import.meta.url. */
export function spawnStoreChild(testFile: string, args: string[]): ChildProcess {
  const root = repoRoot();
  const fromTs = fileURLToPath(testFile).endsWith('.ts');
  const script = fromTs
    ? path.join(root, 'test', 'support', 'store-crash-child.ts')
    : path.join(root, 'dist', 'test', 'support', 'store-crash-child.js');
  const argv = fromTs ? ['--import', 'tsx', script, ...args] : [script, ...args];
  return spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolve with the child's first stdout line matching `re` (rejects on exit or after `ms`). */
export function waitForLine(child: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error(`no line matching ${re} within ${ms} ms; stdout=${out} stderr=${err}`)), ms);
    const onOut = (chunk: Buffer): void => {
      out += chunk.toString();
      for (const line of out.split('\n')) if (re.test(line)) return finish(null, line);
    };
    const onErr = (chunk: Buffer): void => { err += chunk.toString(); };
    const onExit = (code: number | null): void => finish(new Error(`child exited (${code}) before ${re}; stdout=${out} stderr=${err}`));
    function finish(e: Error | null, line?: string): void {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('close', onExit);
      if (e) reject(e); else resolve(line!);
    }
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.on('close', onExit);
  });
}
