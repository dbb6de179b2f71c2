// Browser tests of the console: Debian's chromium driven by playwright-core (no bundled browser
// download), against a real `bin/quorumbl serve`. Screenshots of each page at desktop and phone
// width go to test/artifacts/screenshots/ (git-ignored): look at them before calling a page done.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { makeTmpDir, ROOT } from '../../integration/helpers.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test', 'artifacts', 'screenshots');

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** false when chromium is there; else the reason to skip (a failure with CI=true). */
export function browserOrSkip(): false | string {
  if (existsSync(CHROMIUM)) return false;
  const msg = `${CHROMIUM} not found (apt-get install chromium)`;
  if (process.env.CI === 'true') throw new Error(msg);
  return msg;
}

/** A fresh headless chromium profile (flags from the machine's tooling notes). `bypassCSP`: the
 *  XSS tests turn the pages' CSP off so that escaping alone must keep injected markup inert. */
export async function launch(opts: { bypassCSP?: boolean } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(makeTmpDir('quorumbl-chromium-'), {
    executablePath: CHROMIUM,
    bypassCSP: opts.bypassCSP ?? false,
    headless: true,
    viewport: VIEWPORTS.desktop,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Full-page screenshots of the current page at desktop and phone width:
 *  test/artifacts/screenshots/<name>-desktop.png and -phone.png. */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const out: string[] = [];
  const before = page.viewportSize();
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    const path = join(SCREENSHOTS, `${name}-${label}.png`);
    await page.screenshot({ path, fullPage: true });
    out.push(path);
  }
  if (before) await page.setViewportSize(before);
  return out;
}

/** Signs in through the real form. */
export async function signIn(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel(/user/i).fill(user);
  await page.getByLabel(/password/i).fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.getByRole('button', { name: /sign in|log in/i }).click()]);
}
