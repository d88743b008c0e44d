// put, get, del and compaction through etcdctl-ts and the real etcdctl: every flag, every output format, errors,
// binary keys and values, values from stdin, ETCDCTL_* variables. Each command runs against both servers, which must
// stay in the same state, so the sequence matters.

import { test } from 'node:test';
import { withPair } from '../helpers/etcdctl.js';

const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];

test('put, get, del and compaction agree with etcdctl', { timeout: 120_000 }, async (t) => {
  await withPair(t, async (pair) => {
    const same = pair.same.bind(pair);

    await t.test('put in every format, with --prev-kv', async () => {
      for (const w of FORMATS) {
        await same(['put', `p/${w}`, `v-${w}`, '-w', w]);
        await same(['put', `p/${w}`, `v2-${w}`, '--prev-kv', '-w', w]);
      }
      await same(['put', 'p/new', 'x', '--prev-kv'], { label: 'prev-kv of a new key' });
      await same(['put', '--', 'p/dash', '-starts-with-dash']);
      await same(['put', 'p/spaces', 'a value with spaces', '--write-out=json']);
    });

    await t.test('put: value from stdin, ignore-value, ignore-lease, leases', async () => {
      await same(['put', 'p/stdin'], { stdin: 'from stdin\nwith two lines\n' });
      await same(['put', 'p/stdin-binary'], { stdin: Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a]) });
      await same(['get', 'p/stdin', 'p/stdin-z', '-w', 'json']);
      await same(['put', 'p/empty-stdin'], { label: 'no value and empty stdin' });
      await same(['put'], { label: 'no arguments' });
      await same(['put', 'p/simple', '--ignore-value'], { label: 'ignore-value on a missing key' });
      await same(['put', 'p/simple', 'v', '--ignore-value']);
      await same(['put', 'p/json', '--ignore-value', '--prev-kv', '-w', 'json']);
      await same(['put', 'p/json', 'v3', '--ignore-lease', '--prev-kv']);
      await same(['put', 'p/lease', 'v', '--lease', '1234abcd']);
      await same(['put', 'p/lease', 'v', '--lease=0x10']);
      await same(['put', 'p/lease', 'v', '--lease', 'zz']);
      await same(['put', 'p/lease', 'v', '--lease=-1']);
      await same(['put', 'p/lease', 'v', '--lease', '10000000000000000']);
      await same(['put', 'p/lease', '--lease', 'zz'], { label: 'stdin is read before the lease is parsed' });
      await same(['put', '', 'v'], { label: 'empty key' });
      await same(['put', 'p/big'], { stdin: Buffer.alloc(1_600_000, 0x61), label: 'a 1.6 MB value' });
      await same(['put', 'p/huge'], { stdin: Buffer.alloc(2_200_000, 0x61), label: 'a 2.2 MB value' });
    });

    await t.test('get: ranges, prefixes, from-key and every format', async () => {
      for (const k of ['g/a', 'g/b', 'g/c', 'g/d', 'h']) await same(['put', k, `value of ${k}`]);
      await same(['put', 'g/b', 'b again']);
      for (const w of FORMATS) {
        await same(['get', 'g/a', '-w', w]);
        await same(['get', 'g/', '--prefix', '-w', w]);
        await same(['get', 'missing', '-w', w]);
      }
      await same(['get', 'g/a', 'g/c']);
      await same(['get', 'g/a', 'g/c', '-w', 'json']);
      await same(['get', 'g/c', '--from-key']);
      await same(['get', '', '--from-key', '--keys-only']);
      await same(['get', '', '--prefix', '--keys-only', '-w', 'json']);
      await same(['get', 'g/', '--prefix', '--keys-only', '-w', 'fields']);
      await same(['get', 'g/', '--prefix', '--print-value-only']);
      await same(['get', 'g/', '--prefix', '--print-value-only', '-w', 'json']);
      await same(['get', 'g/', '--prefix', '--consistency', 's', '-w', 'json']);
      await same(['get', 'g/', '--prefix', '--consistency=x']);
      await same(['get'], { label: 'get without a key' });
      await same(['get', 'g/', '--prefix', '--from-key']);
      await same(['get', 'g/', 'g/z', '--prefix']);
      await same(['get', 'g/', 'g/z', '--from-key']);
      await same(['get', 'g/a', '--count-only'], { label: '--count-only is not a 3.4 flag' });
    });

    await t.test('get: limit, sorting, revisions', async () => {
      for (const limit of ['1', '2', '0', '-1', '0x2', '010', '1_0', 'ten']) {
        await same(['get', 'g/', '--prefix', '--limit', limit, '-w', 'json']);
      }
      await same(['get', 'g/', '--prefix', '--limit', '2', '-w', 'fields']);
      for (const target of ['', 'KEY', 'create', 'MODIFY', 'value', 'VERSION', 'bogus']) {
        for (const order of ['', 'ASCEND', 'descend', 'sideways']) {
          await same(['get', 'g/', '--prefix', `--sort-by=${target}`, `--order=${order}`, '--keys-only']);
        }
      }
      await same(['get', 'g/', '--prefix', '--sort-by', 'MODIFY', '--order', 'DESCEND', '--limit', '2', '-w', 'json']);
      for (const rev of ['2', '5', '9', '0', '-3', '100000']) {
        await same(['get', 'g/', '--prefix', '--rev', rev, '-w', 'json']);
      }
    });

    await t.test('del in every format, ranges, prefixes, from-key', async () => {
      for (const k of ['d/a', 'd/b', 'd/c', 'd/d', 'd/e', 'd/f', 'e']) await same(['put', k, k]);
      await same(['del', 'd/a', '--prev-kv']);
      await same(['del', 'd/a']);
      await same(['del', 'd/b', 'd/d', '--prev-kv', '-w', 'json']);
      await same(['del', 'd/d', '--prev-kv', '-w', 'fields']);
      await same(['del', 'd/e', '--prev-kv', '-w', 'protobuf']);
      await same(['del', 'd/f', '-w', 'table']);
      await same(['put', 'd/x', '1']);
      await same(['del', 'd/', '--prefix', '--prev-kv', '-w', 'json']);
      await same(['put', 'd/y', '1']);
      await same(['del', 'd/y', '--from-key', '--prev-kv']);
      await same(['del']);
      await same(['del', 'a', 'b', 'c']);
      await same(['del', 'a', '--prefix', '--from-key']);
      await same(['del', 'a', 'b', '--prefix']);
      await same(['del', '']);
      for (const w of FORMATS) await same(['del', 'missing', '-w', w]);
    });

    await t.test('binary and non-UTF-8 keys and values, --hex', async () => {
      const key = Buffer.from([0xff, 0xfe, 0x00 + 0x41, 0xc3, 0x28]);
      const value = Buffer.from([0xe2, 0x82, 0x28, 0x09, 0x0a, 0x22, 0x5c, 0x3c, 0x26]);
      await same(['put', key, value]);
      await same(['put', Buffer.from('k\t"quoted"\\'), Buffer.from('日本語 \u2028 \u00a0 \u007f 😀', 'utf8')]);
      await same(['put', Buffer.from([0xff, 0xff]), 'all ff']);
      for (const w of FORMATS) {
        await same(['get', Buffer.from([0xff]), '--prefix', '-w', w]);
        await same(['get', Buffer.from('k\t'), '--prefix', '-w', w]);
      }
      await same(['get', Buffer.from([0xff]), '--prefix', '--hex']);
      await same(['get', Buffer.from([0xff]), '--prefix', '--hex', '--print-value-only']);
      await same(['get', Buffer.from([0xff]), '--prefix', '--hex', '-w', 'json']);
      await same(['put', 'hex/k', 'v', '--hex', '--prev-kv']);
      await same(['put', 'hex/k', 'w', '--hex', '--prev-kv']);
      await same(['del', Buffer.from([0xff]), '--prefix', '--prev-kv', '--hex']);
    });

    await t.test('compaction', async () => {
      await same(['compaction', '3']);
      await same(['compaction', '3']);
      await same(['compaction', '2']);
      await same(['get', 'g/', '--prefix', '--rev', '2']);
      await same(['get', 'g/', '--prefix', '--rev', '3', '-w', 'json']);
      await same(['compaction', '5', '--physical', '-w', 'json']);
      await same(['compaction', '1000000']);
      await same(['compaction', 'abc']);
      await same(['compaction', '--', '-1']);
      await same(['compaction']);
      await same(['compaction', '6', '7']);
      await same(['compaction', '6', '-w', 'yaml']);
    });

    await t.test('ETCDCTL_* environment variables', async () => {
      const env = (vars: Record<string, string>): { env: Record<string, string>; endpoint: 'env' } => ({ env: vars, endpoint: 'env' });
      await same(['get', 'g/a'], env({}));
      await same(['get', 'g/a'], env({ ETCDCTL_WRITE_OUT: 'json' }));
      await same(['get', 'g/a'], env({ ETCDCTL_WRITE_OUT: 'fields', ETCDCTL_HEX: 'true' }));
      await same(['get', 'g/a', '-w', 'simple'], env({ ETCDCTL_HEX: '1' }));
      await same(['get', 'g/a'], env({ ETCDCTL_UNKNOWN_THING: 'x' }));
      await same(['get', 'g/a', '-w', 'json'], env({ ETCDCTL_WRITE_OUT: 'json' }));
      await same(['get', 'g/a'], env({ ETCDCTL_DIAL_TIMEOUT: 'not-a-duration' }));
      await same(['get', 'g/a'], env({ ETCDCTL_COMMAND_TIMEOUT: '0s' }));
      await same(['compaction', '6'], env({ ETCDCTL_COMMAND_TIMEOUT: '0s' }));
      await same(['put', 'env/k', 'v'], env({ ETCDCTL_WRITE_OUT: 'yaml' }));
      await same(['get', 'env/k', '--endpoints', '@EP@'], { env: { ETCDCTL_ENDPOINTS: '@EP@' }, endpoint: 'none', label: 'a variable shadowed by its flag' });
      await same(['version'], env({ ETCDCTL_WRITE_OUT: 'yaml' }));
      await same(['get', 'g/a', '--debug'], { ...env({ ETCDCTL_HEX: 'true' }), norm: { debug: true } });
    });
  });
});
