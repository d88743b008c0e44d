// The dashboard against a member with etcd's auth enabled, in headless chromium: the page asks for a login, refuses a
// wrong password with etcd's message, works with the permissions of the user who logged in (its reads, writes and
// the WebSocket watch carry the token), keeps only the token (never the password), and logs out.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Client } from '../../src/client/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { httpBase } from '../helpers/http.js';
import { ARTIFACTS_DIR, launchChromium } from '../helpers/dashboard-browser.js';

const PASSWORD = 'alice-secret-pw';
const TIMEOUT = 15_000;

let m: InProcessMember;
let browser: Browser | null = null;

before(async () => {
  m = await startInProcess(['--name', 'dash-auth', '--bcrypt-cost', '4']);
  const admin = new Client({ endpoints: [m.endpoint] });
  try {
    const b = (s: string): Uint8Array => Buffer.from(s);
    await admin.call('UserAdd', { name: 'root', password: 'rootpw' });
    await admin.call('UserGrantRole', { user: 'root', role: 'root' });
    await admin.call('RoleAdd', { name: 'dash' });
    await admin.call('RoleGrantPermission', { name: 'dash', perm: { permType: 2, key: b('dash-auth/'), range_end: b('dash-auth0') } });
    await admin.call('UserAdd', { name: 'alice', password: PASSWORD });
    await admin.call('UserGrantRole', { user: 'alice', role: 'dash' });
    await admin.put({ key: b('dash-auth/existing'), value: b('was here before') });
    await admin.call('AuthEnable', {});
  } finally {
    admin.destroy();
  }
});
after(async () => {
  await browser?.close();
  await m.close();
});

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).innerText()).trim();
}

test('with auth enabled the dashboard logs in, works as the user it logged in as, keeps only the token and logs out', { timeout: 120_000 }, async () => {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const screenshot = path.join(ARTIFACTS_DIR, 'dashboard-auth.png');
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  try {
    await page.goto(`${httpBase(m)}/`);
    // the login form comes up; the member list (unchecked by etcd's auth) shows all the same
    await page.locator('#login').waitFor({ state: 'visible', timeout: TIMEOUT });
    await page.locator('#members tbody tr', { hasText: 'dash-auth' }).first().waitFor({ timeout: TIMEOUT });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'dashboard-auth-login.png'), fullPage: true });

    // a wrong password: etcd's message, still logged out
    await page.fill('#login-name', 'alice');
    await page.fill('#login-password', 'wrong');
    await page.click('#login-button');
    await page.locator('#login-error', { hasText: 'authentication failed, invalid user ID or password' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('#session').isVisible(), false);

    // the right one
    await page.fill('#login-name', 'alice');
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-button');
    await page.locator('#login').waitFor({ state: 'hidden', timeout: TIMEOUT });
    assert.equal(await text(page, '#session-user'), 'user alice');
    assert.equal(await page.inputValue('#login-password'), '', 'the password field is cleared');
    const stored = await page.evaluate<string>("Object.keys(sessionStorage).map((k) => k + '=' + sessionStorage.getItem(k)).join('\\n')");
    assert.ok(!stored.includes(PASSWORD), `the password is not stored: ${stored}`);
    assert.match(stored, /etcd-ts-token=\S+/);
    const local = await page.evaluate<string>('JSON.stringify(localStorage)');
    assert.ok(!local.includes(PASSWORD));

    // reads with alice's permission
    await page.fill('#prefix', 'dash-auth/');
    await page.click('#search-form button[type=submit]');
    await page.locator('#keys tbody tr', { hasText: 'dash-auth/existing' }).first().waitFor({ timeout: TIMEOUT });

    // the watch (WebSocket with the token) and a put through the form
    await page.fill('#watch-prefix', 'dash-auth/');
    await page.click('#watch-button');
    await page.locator('#watch-state', { hasText: 'watching' }).waitFor({ timeout: TIMEOUT });
    await page.fill('#put-key', 'dash-auth/greeting');
    await page.fill('#put-value', 'hello with a token');
    await page.click('#put-button');
    await page.locator('#watch-events li', { hasText: 'PUT dash-auth/greeting = hello with a token' }).waitFor({ timeout: TIMEOUT });

    // outside alice's permission: etcd's refusal, shown, and the session stays
    await page.fill('#put-key', 'elsewhere');
    await page.fill('#put-value', 'x');
    await page.click('#put-button');
    await page.locator('#write-result', { hasText: 'put failed: etcdserver: permission denied' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('#session').isVisible(), true);
    await page.screenshot({ path: screenshot, fullPage: true });

    // a watch on a range alice may not read is refused as etcd refuses it
    await page.fill('#watch-prefix', 'other/');
    await page.click('#watch-button');
    await page.locator('#watch-state', { hasText: 'permission denied' }).waitFor({ timeout: TIMEOUT });

    // log out: the token is gone and the form is back
    await page.click('#logout');
    await page.locator('#login').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await page.evaluate<string | null>("sessionStorage.getItem('etcd-ts-token')"), null);
    assert.deepEqual(pageErrors, [], 'the page threw no errors');
  } catch (err) {
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-failed.png'), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await page.close();
  }

  // the put through the dashboard really happened, as alice
  const client = new Client({ endpoints: [m.endpoint], username: 'alice', password: PASSWORD });
  try {
    const r = await client.get('dash-auth/greeting');
    assert.equal(Buffer.from(r.kvs[0]!.value).toString(), 'hello with a token');
  } finally {
    client.destroy();
  }
});
