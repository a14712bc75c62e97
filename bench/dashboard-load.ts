/**
 * The dashboard's first load, measured in Debian's Chromium (playwright-core) against a node on
 * loopback: bytes on the wire (compressed, from the Resource Timing entries), first contentful
 * paint, and time to interactive, here the moment the login form accepts input and, after a
 * login, the moment the overview shows its first sample. Each figure is the median of `--runs`
 * cold loads (a new browser context each, so nothing is cached). With `--slow`, the same on an
 * emulated slow link (1.6 Mbit/s down, 750 kbit/s up, 150 ms RTT: Lighthouse's "slow 4G").
 *
 *   node dist/bench/dashboard-load.js [--runs 7] [--slow]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../test/support/broker.js';
import { ensureDashboardBuilt, launchChromium } from '../test/support/browser.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 7) || 7;
const slow = args.includes('--slow');
const ADMIN = { username: 'admin', password: 'Admin-pass-1' };

interface Sample { bytes: number; requests: number; fcp: number; loginReady: number; overviewReady: number }

const dir = mkdtempSync(join(tmpdir(), 'petrel-dash-bench-'));
writeFileSync(join(dir, 'keys'), 'bench:bench-secret\n');
ensureDashboardBuilt();
const b = await startBroker({ api_key: { bootstrap_file: join(dir, 'keys') }, dashboard: { default_password: ADMIN.password } });
const browser = await launchChromium();
const samples: Sample[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    if (slow) {
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 });
    }
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${b.apiPort}/`);
    await page.getByLabel('Username').waitFor();
    const loginReady = Date.now() - t0;
    const perf = await page.evaluate(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource').filter((r) => !r.name.includes('/api/'));
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0), requests: 1 + res.length, fcp: fcp ? fcp.startTime : -1 };
    })()`) as { bytes: number; requests: number; fcp: number };
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    const t1 = Date.now();
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('connections.count').filter({ hasText: /^\d+$/ }).waitFor();
    samples.push({ ...perf, loginReady, overviewReady: Date.now() - t1 });
    await ctx.close();
  }
} finally {
  await browser.close();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, c) => a - c); return s[Math.floor(s.length / 2)]!; };
const pick = (k: keyof Sample): number => median(samples.map((s) => s[k]));
console.log(`dashboard first load, ${slow ? 'emulated slow 4G (1.6 Mbit/s, 150 ms RTT)' : 'loopback'}, median of ${runs} cold loads:`);
console.log(`  bytes on the wire (HTML, JS, CSS; compressed): ${pick('bytes')} in ${pick('requests')} requests`);
console.log(`  first contentful paint: ${pick('fcp').toFixed(0)} ms`);
console.log(`  login form interactive (navigation → form ready): ${pick('loginReady')} ms`);
console.log(`  log in → overview with its first sample: ${pick('overviewReady')} ms`);
