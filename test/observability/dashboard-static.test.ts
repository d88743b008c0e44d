// The dashboard's static files: served at / with their content types, unknown names are 404, and no request target
// (dot segments, encoded slashes, absolute paths) reaches a file outside dashboard/.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARD_DIR, loadDashboardFiles } from '../../src/http/dashboard-route.js';
import { tempDir } from '../helpers/member.js';
import { get, memberForSuite, rawRequest } from '../helpers/http.js';

describe('dashboard static files', () => {
  const suite = memberForSuite();

  test('/ and the page files are served with their content types', async () => {
    const index = await get(`${suite.base}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.body, fs.readFileSync(path.join(DASHBOARD_DIR, 'index.html'), 'utf8'));
    assert.match(index.body, /<script src="app.js"><\/script>/);
    assert.equal((await get(`${suite.base}/index.html`)).body, index.body);
    const js = await get(`${suite.base}/app.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.body, fs.readFileSync(path.join(DASHBOARD_DIR, 'app.js'), 'utf8'));
    const css = await get(`${suite.base}/style.css`);
    assert.equal(css.status, 200);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  });

  test('unknown names are 404 with Go\'s body', async () => {
    for (const p of ['/nope.js', '/app.js/', '/dashboard/app.js', '/APP.JS']) {
      const r = await get(`${suite.base}${p}`);
      assert.equal(r.status, 404, p);
      assert.equal(r.body, '404 page not found\n', p);
    }
  });

  test('path traversal never reaches the file system', async () => {
    const port = suite.member.member.httpAddresses[0]!.port;
    const secret = fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    for (const target of [
      '/../package.json',
      '/../../package.json',
      '/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/%2e%2e%2fpackage.json',
      '/app.js/../../package.json',
      '/./../package.json',
      '/..\\package.json',
      '/%00app.js',
      '//etc/passwd',
      '/../../../../../../etc/passwd',
    ]) {
      const { statusLine, response } = await rawRequest(port, target);
      assert.match(statusLine, /^HTTP\/1\.1 (404|400)/, target);
      assert.ok(!response.includes('"name": "etcd-ts"') && !response.includes(secret.slice(0, 40)), `${target} leaked package.json`);
      assert.ok(!response.includes('root:'), `${target} leaked /etc/passwd`);
    }
    // the member is still serving
    assert.equal((await get(`${suite.base}/health`)).status, 200);
  });

  test('only plain files with known extensions are loaded', () => {
    const dir = tempDir('etcd-ts-dash-');
    try {
      fs.writeFileSync(path.join(dir, 'index.html'), '<p>hi</p>');
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'not served');
      fs.writeFileSync(path.join(dir, '.hidden.js'), 'not served');
      fs.mkdirSync(path.join(dir, 'sub.js'));
      fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd.css'));
      const files = loadDashboardFiles(dir);
      assert.deepEqual([...files.keys()], ['index.html'], 'no directory, symbolic link, hidden or unknown file');
      assert.equal(files.get('index.html')!.contentType, 'text/html; charset=utf-8');
      assert.equal(loadDashboardFiles(path.join(dir, 'missing')).size, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
