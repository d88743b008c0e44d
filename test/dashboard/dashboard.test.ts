// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core, against an etcd-ts
// member. It needs the JSON gateway (/v3/cluster/member/list, /v3/kv/put, /v3/kv/range, WebSocket /v3/watch).
// Without /usr/bin/chromium this fails, saying how to install it: CI installs chromium, so a skip would hide a gap.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { Client } from '../../src/client/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { httpBase } from '../helpers/http.js';
import { ARTIFACTS_DIR, exerciseDashboard, launchChromium } from '../helpers/dashboard-browser.js';

let m: InProcessMember;
let browser: Browser | null = null;

before(async () => {
  m = await startInProcess(['--name', 'dash-member']);
});
after(async () => {
  await browser?.close();
  await m.close();
});

test('the dashboard lists the member, puts a key through its form and shows it in the watch pane', { timeout: 120_000 }, async () => {
  browser = await launchChromium();
  const screenshot = path.join(ARTIFACTS_DIR, 'dashboard.png');
  fs.rmSync(screenshot, { force: true });
  const run = await exerciseDashboard(browser, `${httpBase(m)}/`, {
    memberName: 'dash-member',
    prefix: 'dashboard-test/',
    key: 'dashboard-test/greeting',
    value: 'hello from chromium',
    screenshot,
  });
  const id = m.member.server.memberId.toString(16);
  assert.ok(run.memberRows.some((r) => r.includes('dash-member') && r.includes(id) && r.includes('leader')), run.memberRows.join('\n'));
  assert.ok(run.watchEvents.some((e) => e.startsWith('PUT dashboard-test/greeting = hello from chromium')), run.watchEvents.join('\n'));
  assert.ok(fs.statSync(screenshot).size > 0, 'screenshot saved');
  assert.deepEqual(run.pageErrors, [], 'the page logged no errors');
  // the put really reached the store
  const client = new Client({ endpoints: [m.endpoint] });
  try {
    const r = await client.get('dashboard-test/greeting');
    assert.equal(Buffer.from(r.kvs[0]!.value).toString(), 'hello from chromium');
  } finally {
    client.destroy();
  }
});
