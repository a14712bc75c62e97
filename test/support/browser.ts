/**
 * Test support: Debian's Chromium driven by playwright-core (no downloaded browser), the
 * dashboard's build, a place for screenshots, and the accessibility checks the dashboard's
 * browser tests run on every page.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot, requireBinary } from './broker.js';

export const CHROMIUM = process.env.PETREL_CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  requireBinary(CHROMIUM, 'chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** dist/dashboard/, built now when `make build` has not (a plain tsc leaves it out). */
export function ensureDashboardBuilt(): string {
  const dir = join(repoRoot(), 'dist', 'dashboard');
  if (!existsSync(join(dir, 'index.html'))) {
    execFileSync(process.execPath, [join(repoRoot(), 'scripts', 'build-dashboard.mjs')], { stdio: 'pipe' });
  }
  return dir;
}

/** test-artifacts/dashboard/ at the repository root (gitignored), or $PETREL_ARTIFACTS/dashboard. */
export function artifactsDir(): string {
  const dir = join(process.env.PETREL_ARTIFACTS ?? join(repoRoot(), 'test-artifacts'), 'dashboard');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * What the page gets wrong for a keyboard or screen-reader user, as readable lines (empty = fine):
 * a form control without a label, a button or link without a name, a control taken out of the
 * Tab order, no h1, no document language, a table without a caption or header cells.
 */
export function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(A11Y_CHECK) as Promise<string[]>;
}

// Runs in the page, so it is a string: this project's compiler has no DOM types.
const A11Y_CHECK = `(() => {
  const out = [];
  const short = (el) => el.outerHTML.slice(0, 100);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = Array.from(el.labels || []).some((l) => l.textContent.trim() !== '')
      || (el.getAttribute('aria-label') || '').trim() !== '' || el.hasAttribute('aria-labelledby');
    if (!labelled) out.push('unlabelled control: ' + short(el));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (el.textContent.trim() === '' && (el.getAttribute('aria-label') || '').trim() === '') out.push('control without a name: ' + short(el));
  }
  for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
    if (el.tabIndex < 0) out.push('not reachable by Tab: ' + short(el));
  }
  for (const t of document.querySelectorAll('table:not([role=presentation])')) {
    if (t.querySelector('caption') === null) out.push('table without caption: ' + short(t));
    if (t.querySelector('th') === null) out.push('table without header cells: ' + short(t));
  }
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) out.push(h1 + ' h1 elements');
  if (!document.documentElement.lang) out.push('no lang on <html>');
  return out;
})()`;

/** The focused element's tag name (upper case) and whether it is inside `main`. */
export function focused(page: Page): Promise<{ tag: string; text: string; inMain: boolean }> {
  return page.evaluate(`(() => { const a = document.activeElement;
    return { tag: a ? a.tagName : '', text: a ? a.textContent.trim() : '', inMain: !!a && !!document.querySelector('main') && document.querySelector('main').contains(a) }; })()`) as Promise<{ tag: string; text: string; inMain: boolean }>;
}

/** Presses Tab until the focused element's text is `text` (at most `max` presses); false if never. */
export async function tabTo(page: Page, text: string, max = 40): Promise<boolean> {
  for (let i = 0; i <= max; i++) {
    if ((await focused(page)).text === text) return true;
    if (i < max) await page.keyboard.press('Tab');
  }
  return false;
}
