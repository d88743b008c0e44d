// The dashboard over HTTPS in headless chromium: an https:// client URL (TLS terminated by the client port, then the
// page, the JSON gateway and the watch WebSocket over wss), the same walk-through as over plain HTTP.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { testCerts } from '../helpers/tls-certs.js';
import { ARTIFACTS_DIR, exerciseDashboard, launchChromium } from '../helpers/dashboard-browser.js';

let m: InProcessMember;
let browser: Browser | null = null;

before(async () => {
  const certs = testCerts();
  m = await startInProcess(['--name', 'dash-https', '--listen-client-urls', 'https://127.0.0.1:0', '--cert-file', certs.serverCert, '--key-file', certs.serverKey]);
});
after(async () => {
  await browser?.close();
  await m.close();
});

test('the dashboard works over HTTPS: member list, a put through its form and the event on the wss watch', { timeout: 120_000 }, async () => {
  browser = await launchChromium();
  const screenshot = path.join(ARTIFACTS_DIR, 'dashboard-https.png');
  fs.rmSync(screenshot, { force: true });
  const url = `https://127.0.0.1:${m.member.clientAddresses[0]!.port}/`;
  const run = await exerciseDashboard(browser, url, {
    memberName: 'dash-https',
    prefix: 'https-test/',
    key: 'https-test/greeting',
    value: 'hello over tls',
    screenshot,
    ignoreHttpsErrors: true,
  });
  assert.ok(run.memberRows.some((r) => r.includes('dash-https') && r.includes('leader')), run.memberRows.join('\n'));
  assert.ok(run.watchEvents.some((e) => e.startsWith('PUT https-test/greeting = hello over tls')), run.watchEvents.join('\n'));
  assert.deepEqual(run.pageErrors, [], 'the page logged no errors');
});
