// Drives the dashboard in headless Debian chromium through playwright-core (no downloaded browser: CI installs
// `chromium` with apt-get). Shared by test/dashboard and usable by hand against any URL serving the dashboard.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
/** <repo>/test-artifacts (git-ignored), from dist/test/helpers */
export const ARTIFACTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test-artifacts');

/** Launches chromium, or throws saying how to install it: a missing browser must fail the test, not skip it. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

export interface DashboardRun {
  /** text of the member table's rows */
  memberRows: string[];
  /** text of the watch pane's events */
  watchEvents: string[];
  /** errors the page logged or threw */
  pageErrors: string[];
  screenshot: string;
}

/**
 * Opens the dashboard at `url`, waits for the member list to show `memberName`, starts a watch on `prefix`, puts
 * `key`=`value` through the form, waits for the event in the watch pane, then saves a screenshot.
 */
export async function exerciseDashboard(
  browser: Browser,
  url: string,
  opts: { memberName: string; prefix: string; key: string; value: string; screenshot: string; timeoutMs?: number; ignoreHttpsErrors?: boolean },
): Promise<DashboardRun> {
  const timeout = opts.timeoutMs ?? 15_000;
  // a test CA the browser does not know: accept the member's certificate (the TLS tests check the chain itself)
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 1100 }, ignoreHTTPSErrors: opts.ignoreHttpsErrors === true });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') pageErrors.push(m.text());
  });
  try {
    await page.goto(url);
    await page.locator('#members tbody tr', { hasText: opts.memberName }).first().waitFor({ timeout });
    const memberRows = await page.locator('#members tbody tr').allInnerTexts();

    await page.fill('#watch-prefix', opts.prefix);
    await page.click('#watch-button');
    await page.locator('#watch-state', { hasText: 'watching' }).waitFor({ timeout });

    await page.fill('#put-key', opts.key);
    await page.fill('#put-value', opts.value);
    await page.click('#put-button');
    await page.locator('#watch-events li', { hasText: `PUT ${opts.key} = ${opts.value}` }).waitFor({ timeout });
    const watchEvents = await page.locator('#watch-events li').allInnerTexts();

    // the key browser finds it too
    await page.fill('#prefix', opts.prefix);
    await page.click('#search-form button[type=submit]');
    await page.locator('#keys tbody tr', { hasText: opts.key }).first().waitFor({ timeout });

    fs.mkdirSync(path.dirname(opts.screenshot), { recursive: true });
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    return { memberRows, watchEvents, pageErrors, screenshot: opts.screenshot };
  } catch (err) {
    // leave a picture of the failure behind as well
    fs.mkdirSync(path.dirname(opts.screenshot), { recursive: true });
    await page.screenshot({ path: opts.screenshot.replace(/\.png$/, '-failed.png'), fullPage: true }).catch(() => {});
    throw new Error(`${(err as Error).message}\npage errors: ${pageErrors.join(' | ') || 'none'}`);
  } finally {
    await page.close();
  }
}
