// etcdctl's own quirks and its ports of third-party Go libraries (go-humanize, tablewriter, pflag) and of the
// Sscanf format its txn compares are parsed with, which the differential tests reach only through a running server.
// Go's standard library behaviour is tested in test/gocompat/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goReference, unhex } from '../helpers/go-reference.js';
import { scanCompare } from '../../src/cli/etcdctl/commands/txn-parse.js';
import { humanizeBytes, renderTable } from '../../src/cli/etcdctl/printers/tablewriter.js';
import { FlagError, FlagSet, boolFlag, int64Flag, stringFlag, durationFlag, stringSliceFlag } from '../../src/cli/etcdctl/flags.js';

const ref = goReference();

function section(name: string): string[][] {
  const rows = ref.get(name);
  assert.ok(rows !== undefined && rows.length > 0, `reference section ${name}`);
  return rows;
}

test('go-humanize Bytes (db size column)', () => {
  for (const [n, expected] of section('HUMANIZE')) assert.equal(humanizeBytes(Number(n)), unhex(expected!), `Bytes(${n})`);
});

test('fmt.Sscanf(line, "%q) %s %q") as txn compares are parsed', () => {
  for (const [input, n, key, op, val] of section('SCAN')) {
    const got = scanCompare(unhex(input!));
    assert.deepEqual(got, { n: Number(n), key: unhex(key!), op: unhex(op!), val: unhex(val!) }, `Sscanf(${unhex(input!)})`);
  }
});

test('tablewriter: centred upper-case header, right-aligned cells, wrapped at 30 columns', () => {
  const out = renderTable(['endpoint', 'error'], [['127.0.0.1:1', 'a rather long error message that has to wrap around']]);
  assert.equal(
    out,
    [
      '+-------------+--------------------------------+',
      '|  ENDPOINT   |             ERROR              |',
      '+-------------+--------------------------------+',
      '| 127.0.0.1:1 |    a rather long error message |',
      '|             |        that has to wrap around |',
      '+-------------+--------------------------------+',
      '',
    ].join('\n'),
  );
});

test('pflag parsing: forms of flags and its error messages', () => {
  const fs = new FlagSet([
    boolFlag('hex', '', false, ''),
    boolFlag('interactive', 'i', false, ''),
    stringFlag('write-out', 'w', 'simple', ''),
    int64Flag('limit', 0n, ''),
    durationFlag('dial-timeout', 2_000_000_000n, ''),
    stringSliceFlag('endpoints', ['127.0.0.1:2378'], ''),
  ]);
  fs.parse(['a', '--hex', '-iwjson', '--limit', '0x10', 'b', '--dial-timeout=1m30s', '--endpoints', 'x,y', '--endpoints=z', '--', '--c']);
  assert.deepEqual(fs.args, ['a', 'b', '--c']);
  assert.equal(fs.lookup('write-out')!.value.string(), 'json');
  assert.equal(fs.lookup('limit')!.value.string(), '16');
  assert.equal(fs.lookup('dial-timeout')!.value.string(), '1m30s');
  assert.equal(fs.lookup('endpoints')!.value.string(), '[x,y,z]');
  assert.equal(fs.lookup('interactive')!.changed, true);
  const failures: [string[], string][] = [
    [['--nope'], 'unknown flag: --nope'],
    [['-x'], "unknown shorthand flag: 'x' in -x"],
    [['--limit'], 'flag needs an argument: --limit'],
    [['-w'], "flag needs an argument: 'w' in -w"],
    [['--limit', 'ten'], 'invalid argument "ten" for "--limit" flag: strconv.ParseInt: parsing "ten": invalid syntax'],
    [['--hex=maybe'], 'invalid argument "maybe" for "--hex" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
    [['--dial-timeout', '5'], 'invalid argument "5" for "--dial-timeout" flag: time: missing unit in duration "5"'],
    [['---x'], 'bad flag syntax: ---x'],
  ];
  for (const [args, message] of failures) {
    const err = (() => {
      try {
        new FlagSet([
          boolFlag('hex', '', false, ''),
          stringFlag('write-out', 'w', 'simple', ''),
          int64Flag('limit', 0n, ''),
          durationFlag('dial-timeout', 0n, ''),
        ]).parse(args);
        return null;
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof FlagError, `${args.join(' ')} fails`);
    assert.equal(err.message, message);
  }
});
