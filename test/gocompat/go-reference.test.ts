// etcdctl-ts's ports of Go library behaviour, checked against values Go itself produced (test/helpers/go-reference.ts),
// plus etcdctl's own quirks that the differential tests reach only through a running server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goReference, unhex } from '../helpers/go-reference.js';
import { quote } from '../../src/gocompat/strconv.js';
import { parseInt64 } from '../../src/gocompat/strconv.js';
import { jsonString } from '../../src/gocompat/json.js';
import { formatDuration, parseDuration } from '../../src/gocompat/time.js';
import { readCsvRecord } from '../../src/gocompat/csv.js';
import { scanCompare } from '../../src/gocompat/fmt-scan.js';
import { formatTabbed } from '../../src/gocompat/tabwriter.js';
import { humanizeBytes, renderTable } from '../../src/cli/etcdctl/printers/tablewriter.js';
import { FlagError, FlagSet, boolFlag, int64Flag, stringFlag, durationFlag, stringSliceFlag } from '../../src/cli/etcdctl/flags.js';

const ref = goReference();

function section(name: string): string[][] {
  const rows = ref.get(name);
  assert.ok(rows !== undefined && rows.length > 0, `reference section ${name}`);
  return rows;
}

function errorMessage(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

test('strconv.Quote (fields output, error messages)', () => {
  for (const [input, expected] of section('QUOTE')) assert.equal(quote(unhex(input!)), unhex(expected!), `Quote(${input})`);
});

test('encoding/json strings (HTML-safe, invalid UTF-8 as \\ufffd)', () => {
  for (const [input, expected] of section('JSON')) assert.equal(jsonString(unhex(input!)), unhex(expected!), `json(${input})`);
});

test('time.Duration.String', () => {
  for (const [ns, expected] of section('DURSTR')) assert.equal(formatDuration(BigInt(ns!)), unhex(expected!), `Duration(${ns})`);
});

test('time.ParseDuration, values and error messages', () => {
  for (const row of section('DURPARSE')) {
    const input = unhex(row[0]!);
    if (row[1] === 'E') assert.equal(errorMessage(() => parseDuration(input)), unhex(row[2]!), `ParseDuration(${row[0]})`);
    else assert.equal(parseDuration(input), BigInt(row[1]!), `ParseDuration(${row[0]})`);
  }
});

test('strconv.ParseInt, values and error messages', () => {
  for (const row of section('PARSEINT')) {
    const input = unhex(row[0]!);
    const base = Number(row[1]);
    if (row[2] === 'E') assert.equal(errorMessage(() => parseInt64(input, base)), unhex(row[3]!), `ParseInt(${row[0]}, ${base})`);
    else assert.equal(parseInt64(input, base), BigInt(row[2]!), `ParseInt(${row[0]}, ${base})`);
  }
});

test('go-humanize Bytes (db size column)', () => {
  for (const [n, expected] of section('HUMANIZE')) assert.equal(humanizeBytes(Number(n)), unhex(expected!), `Bytes(${n})`);
});

test('encoding/csv, as pflag splits --endpoints', () => {
  for (const row of section('CSV')) {
    const input = unhex(row[0]!);
    if (row[1] === 'E') assert.equal(errorMessage(() => readCsvRecord(input)), unhex(row[2]!), `csv(${row[0]})`);
    else assert.equal(readCsvRecord(input).join('|'), unhex(row[1]!), `csv(${row[0]})`);
  }
});

test('fmt.Sscanf(line, "%q) %s %q") as txn compares are parsed', () => {
  for (const [input, n, key, op, val] of section('SCAN')) {
    const got = scanCompare(unhex(input!));
    assert.deepEqual(got, { n: Number(n), key: unhex(key!), op: unhex(op!), val: unhex(val!) }, `Sscanf(${unhex(input!)})`);
  }
});

test('text/tabwriter with etcdctl settings', () => {
  const [[expected]] = section('TABWRITER') as [[string]];
  const input =
    'NAME:\n\tfoo - bar\n\nCOMMANDS:\n\ta\tshort one\n\tlonger name\tx\n\tmid name\ty\n\nOPTIONS:\n' +
    '  -a, --alpha="x"\tthe a\n      --b[=false]\tthe b\n      --a-very-long-flag-name=0\tz\n\n';
  assert.equal(formatTabbed(input), unhex(expected));
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
