// Data directory errors: a directory locked by a running member, one that cannot be read (tests run as root, so
// permission bits stop nothing: files where directories should be, symlink loops, files that are not LMDB), and one
// that is not an etcd-ts directory. `etcd-ts` must exit non-zero with a clear error and modify nothing: every file's
// bytes and every entry's mtime are compared before and after.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { open } from 'lmdb';
import { Client } from '../../src/client/index.js';
import { startChild, tempDir } from '../helpers/member.js';
import { snapshotTree } from '../helpers/fs-snapshot.js';
import { runEtcdTsWith } from '../helpers/process.js';

const DB = 'member/etcd-ts.mdb';

function scratch(t: { after(fn: () => unknown): void }): string {
  const root = tempDir('etcd-ts-datadir-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

/** Runs etcd-ts on `dataDir`, expects a refusal matching `error`, and that nothing under `root` changed. */
async function expectRefusal(root: string, dataDir: string, error: RegExp): Promise<void> {
  const before = snapshotTree(root);
  const r = await runEtcdTsWith(['--data-dir', dataDir, '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0']);
  assert.equal(r.signal, null, `etcd-ts must exit, not crash or hang (signal ${r.signal}): ${r.stderr}`);
  assert.equal(r.code, 1, `exit code: ${r.stderr}`);
  const fatal = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string; error?: string })
    .find((l) => l.level === 'fatal');
  assert.ok(fatal !== undefined, `a fatal log line: ${r.stderr}`);
  assert.equal(fatal.msg, 'failed to open data directory');
  assert.match(fatal.error ?? '', error);
  assert.doesNotMatch(r.stderr, /ready to serve/);
  assert.deepEqual(snapshotTree(root), before, 'nothing in the directory was created, changed or touched');
}

function writeFile(file: string, bytes: Uint8Array | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

test('a data directory in use by a running member is refused, and the running member is undisturbed', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const dataDir = path.join(root, 'data');
  const m = await startChild([], dataDir);
  t.after(() => m.kill('SIGKILL'));
  const c = new Client({ endpoints: [m.endpoint] });
  t.after(() => c.destroy());
  const put = await c.put({ key: Buffer.from('k'), value: Buffer.from('v') });
  await c.status();
  fs.symlinkSync(dataDir, path.join(root, 'alias'));
  // The running member may touch its own files at any time (LMDB's reader table, a deferred sync, the commit of an
  // apply whose put was already answered); stopped, it cannot, so any change would be the refused process's. A write
  // already in the kernel when it stops still completes: wait until the tree stands still. It keeps holding its lock
  // while stopped.
  m.child.kill('SIGSTOP');
  try {
    for (let last = JSON.stringify(snapshotTree(root)); ; ) {
      await new Promise((r) => setTimeout(r, 50));
      const now = JSON.stringify(snapshotTree(root));
      if (now === last) break;
      last = now;
    }
    await expectRefusal(root, dataDir, /data directory .*data is in use by another etcd-ts member \(locked\)/);
    // the same directory through another path (a symlink) is the same lock
    await expectRefusal(root, path.join(root, 'alias'), /is in use by another etcd-ts member \(locked\)/);
  } finally {
    m.child.kill('SIGCONT');
  }
  const got = await c.get('k');
  assert.equal(got.kvs[0]!.mod_revision, put.header.revision, 'the running member still serves its data');
});

test('unreadable data directories are refused without being modified', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const cases: { name: string; setup(dir: string): void; error: RegExp; under?: string }[] = [
    {
      name: 'a regular file where the directory should be',
      setup: (dir) => writeFile(dir, 'not a directory'),
      error: /data directory .* exists and is not a directory/,
    },
    {
      name: 'a path through a regular file',
      setup: (dir) => writeFile(dir, 'x'),
      under: 'sub',
      error: /cannot read data directory .*ENOTDIR/,
    },
    {
      name: 'a symlink loop',
      setup: (dir) => fs.symlinkSync(path.basename(dir), dir),
      error: /cannot read data directory .*ELOOP/,
    },
    {
      name: 'member is a regular file',
      setup: (dir) => writeFile(path.join(dir, 'member'), 'x'),
      error: /is not an etcd-ts data directory \(member is not a directory\)/,
    },
    {
      name: 'the database is a directory',
      setup: (dir) => fs.mkdirSync(path.join(dir, DB), { recursive: true }),
      error: /member\/etcd-ts\.mdb is not a regular file/,
    },
    {
      name: 'the database is a dangling symlink',
      setup: (dir) => {
        fs.mkdirSync(path.join(dir, 'member'), { recursive: true });
        fs.symlinkSync('nowhere.mdb', path.join(dir, DB));
      },
      error: /is not an etcd-ts data directory \(no member\/etcd-ts\.mdb\)/,
    },
    {
      name: 'the database is empty',
      setup: (dir) => writeFile(path.join(dir, DB), ''),
      error: /member\/etcd-ts\.mdb: the database file is empty/,
    },
    {
      name: 'the database is random bytes',
      setup: (dir) => writeFile(path.join(dir, DB), Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 251))),
      error: /member\/etcd-ts\.mdb: the database file is not an LMDB file/,
    },
    {
      name: 'the database is text',
      setup: (dir) => writeFile(path.join(dir, DB), 'SQLite format 3\0'.padEnd(16384, 'x')),
      error: /member\/etcd-ts\.mdb: the database file is not an LMDB file/,
    },
  ];
  for (const [i, k] of cases.entries()) {
    const caseRoot = path.join(root, String(i));
    fs.mkdirSync(caseRoot);
    k.setup(path.join(caseRoot, 'data'));
    const dataDir = path.join(caseRoot, 'data', k.under ?? '');
    await t.test(k.name, () => expectRefusal(caseRoot, dataDir, k.error));
  }
});

test('a damaged etcd-ts database is refused without being modified (and without crashing LMDB)', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const source = path.join(root, 'source');
  const m = await startChild([], source);
  t.after(() => m.kill('SIGKILL'));
  const c = new Client({ endpoints: [m.endpoint] });
  for (let i = 0; i < 200; i++) await c.put({ key: Buffer.from(`k${i}`), value: Buffer.alloc(100, i) });
  c.destroy();
  assert.equal((await m.kill('SIGTERM')).code, 0);
  const good = fs.readFileSync(path.join(source, DB));
  const pageSize = good.readUInt32LE(48);
  const damaged: [string, Buffer, RegExp][] = [
    ['truncated to one page', good.subarray(0, pageSize), /too short to be an LMDB file/],
    ['truncated to two pages', good.subarray(0, 2 * pageSize), /the database file is truncated/],
    ['cut in the middle', good.subarray(0, Math.floor(good.length / 2 / pageSize) * pageSize - 100), /the database file is truncated/],
    ['first meta page overwritten', Buffer.concat([Buffer.alloc(pageSize, 0xaa), good.subarray(pageSize)]), /the database file is not an LMDB file/],
    ['second meta page overwritten', Buffer.concat([good.subarray(0, pageSize), Buffer.alloc(pageSize, 0), good.subarray(2 * pageSize)]), /no LMDB meta page/],
    ['another LMDB data version', (() => { const b = Buffer.from(good); b.writeUInt32LE(1, 28); return b; })(), /LMDB data version 1/],
  ];
  for (const [name, bytes, error] of damaged) {
    await t.test(name, async () => {
      const caseRoot = path.join(root, name.replace(/\W+/g, '-'));
      writeFile(path.join(caseRoot, 'data', DB), bytes);
      await expectRefusal(caseRoot, path.join(caseRoot, 'data'), error);
    });
  }
  // the undamaged copy still opens: the checks refuse only what is broken
  const copy = path.join(root, 'copy');
  writeFile(path.join(copy, DB), good);
  const again = await startChild([], copy);
  t.after(() => again.kill('SIGKILL'));
  const c2 = new Client({ endpoints: [again.endpoint] });
  t.after(() => c2.destroy());
  assert.equal((await c2.get('k', { prefix: true, count_only: true })).count, 200);
});

test('directories that are not etcd-ts data directories are refused without being modified', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const cases: { name: string; setup(dir: string): void | Promise<void>; error: RegExp }[] = [
    {
      name: 'a directory of other files',
      setup: (dir) => {
        writeFile(path.join(dir, 'README.md'), '# my project\n');
        writeFile(path.join(dir, 'src/main.go'), 'package main\n');
      },
      error: /is not an etcd-ts data directory \(no member\/etcd-ts\.mdb\)/,
    },
    {
      name: "a real etcd's data directory",
      setup: (dir) => {
        writeFile(path.join(dir, 'member/snap/db'), Buffer.alloc(4096, 1));
        writeFile(path.join(dir, 'member/wal/0000000000000000-0000000000000000.wal'), Buffer.alloc(4096, 2));
      },
      error: /is not an etcd-ts data directory \(no member\/etcd-ts\.mdb\)/,
    },
    {
      name: 'an empty member directory',
      setup: (dir) => fs.mkdirSync(path.join(dir, 'member'), { recursive: true }),
      error: /is not an etcd-ts data directory \(no member\/etcd-ts\.mdb\)/,
    },
    {
      name: 'an LMDB environment of another program at the same path',
      setup: async (dir) => {
        fs.mkdirSync(path.join(dir, 'member'), { recursive: true });
        const env = open({ path: path.join(dir, DB) });
        await env.openDB({ name: 'meta' }).put('format', 'someone-else/7');
        await env.close();
      },
      error: /is not an etcd-ts data directory \(format marker "someone-else\/7"\)/,
    },
    {
      name: 'an LMDB environment without a meta table',
      setup: async (dir) => {
        fs.mkdirSync(path.join(dir, 'member'), { recursive: true });
        const env = open({ path: path.join(dir, DB) });
        await env.put('hello', 'world');
        await env.close();
      },
      error: /is not an etcd-ts data directory \(format marker null\)/,
    },
  ];
  for (const [i, k] of cases.entries()) {
    const caseRoot = path.join(root, String(i));
    const dir = path.join(caseRoot, 'data');
    fs.mkdirSync(dir, { recursive: true });
    await k.setup(dir);
    await t.test(k.name, () => expectRefusal(caseRoot, dir, k.error));
  }
});

test('an empty existing directory and a missing one are initialised', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const empty = path.join(root, 'empty');
  fs.mkdirSync(empty);
  for (const dir of [empty, path.join(root, 'missing', 'nested')]) {
    const m = await startChild([], dir);
    t.after(() => m.kill('SIGKILL'));
    const c = new Client({ endpoints: [m.endpoint] });
    t.after(() => c.destroy());
    assert.equal((await c.put({ key: Buffer.from('a'), value: Buffer.from('b') })).header.revision, 2);
    assert.ok(fs.statSync(path.join(dir, DB)).isFile());
  }
});
