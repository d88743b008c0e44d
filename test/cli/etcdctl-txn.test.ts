// txn through etcdctl-ts and the real etcdctl: the stdin syntax (every compare target, short form and operator,
// requests with their flags in both branches), -i prompts, every output format, and the parse errors, exits and
// panics etcdctl produces for malformed input.

import { test } from 'node:test';
import { pairFor } from '../helpers/etcdctl.js';

const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];

/** A txn's stdin: compare lines, success lines, failure lines, each block ended by an empty line. */
function txn(compares: string[], success: string[], failure: string[]): string {
  return [...compares, '', ...success, '', ...failure, ''].map((l) => l + '\n').join('');
}

test('txn agrees with etcdctl', { timeout: 120_000 }, async (t) => {
  const pair = await pairFor(t);
  if (pair === null) return;
  const same = (stdin: string | Buffer, args: string[] = [], label?: string): Promise<unknown> =>
    pair.same(['txn', ...args], { stdin, label: label ?? `txn ${args.join(' ')} <<< ${JSON.stringify(stdin.toString())}` });

  await t.test('setup', async () => {
    for (const [k, v] of [['a', '1'], ['b', '2'], ['c', '3'], ['a', '10']] as const) await pair.same(['put', k, v]);
  });

  await t.test('every compare target, short form and operator', async () => {
    // a: version 2, create 2, mod 5, value "10"
    const targets: [string, string][] = [
      ['value', '"10"'], ['val', '"2"'],
      ['version', '"2"'], ['ver', '"1"'],
      ['create', '"2"'], ['c', '"3"'],
      ['mod', '"5"'], ['m', '"4"'],
    ];
    for (const [target, operand] of targets) {
      for (const op of ['=', '!=', '<', '>']) {
        await same(txn([`${target}("a") ${op} ${operand}`], ['get a'], ['get b']));
      }
    }
    await same(txn(['value("missing") = ""'], ['get a'], ['get b']), [], 'value of a missing key');
    await same(txn(['version("missing") = "0"', 'create("missing") = "0"', 'mod("missing") < "1"'], ['get c'], []));
    await same(txn(['value("a") = "10"', 'value("b") = "nope"'], ['get a'], ['get b']), [], 'one false compare fails all');
    await same(txn([], ['get a'], ['get b']), [], 'no compares succeed');
    await same(txn(['mod(`a`) > `1`'], ['get a'], []), [], 'back-quoted strings');
    await same(txn(['value("a") = "10" trailing words'], ['get a'], []), [], 'trailing input after a compare');
    await same(txn(['value("a")   =   "10"'], ['get a'], []));
    await same(txn(['value("a")\t=\t"10"'], ['get a'], []));
    await same(txn(['value("\\x61") = "1\\x30"'], ['get a'], []), [], 'escapes in compare strings');
  });

  await t.test('requests with flags in both branches, every format', async () => {
    for (const w of FORMATS) {
      const body = txn(
        ['mod("a") > "0"'],
        [`put t/${w} v1`, `put t/${w} v2 --prev-kv`, 'get a c', 'get t/ --prefix --keys-only', `del t/${w} --prev-kv`],
        ['put never x'],
      );
      await same(body, ['-w', w]);
      await same(txn(['value("a") = "no"'], ['put never x'], ['get a --print-value-only', 'del nothing', 'put f v --prev-kv']), ['-w', w]);
    }
    await same(
      txn(
        [],
        [
          'get "" --from-key --keys-only --limit 2',
          'get a --rev 2',
          'get a c --consistency s',
          'get "" --prefix --sort-by=MODIFY --order=DESCEND --limit=2',
          'get b --sort-by version',
          'put "quoted key" "a value"',
          'put lease-key v --lease 0',
          'del "quoted key" --prev-kv',
          'put t/x 1',
          'del t/ --prefix',
          'put t/y 1',
          'del t/y --from-key --prev-kv',
        ],
        [],
      ),
      ['-w', 'json'],
    );
    await same(txn([], ['p short-put x', 'g short-put', 'd short-put'], []), [], 'prefixes of put, get, del');
    await same(txn([], ['put a 11 --ignore-lease --prev-kv', 'get a'], []));
    await same(txn([], ['put a --ignore-value'], []));
    await same(txn([], ['put missing-key --ignore-value'], []), [], 'server error inside a txn');
    await same(txn([], ['put x 1 --lease 1'], []), [], 'lease not found');
    await same(txn([], ['put dup 1', 'put dup 2'], []), [], 'duplicate key');
    await same(txn([], ['get a --rev 100000'], []), [], 'future revision');
    await same(txn([], Array.from({ length: 129 }, (_, i) => `put many/${i} x`), []), [], 'too many operations');
    await same(txn([], ['put "" empty-key'], []));
  });

  await t.test('interactive prompts', async () => {
    await same(txn(['value("a") = "11"'], ['get a'], ['get b']), ['-i']);
    await same(txn([], ['get a'], []), ['--interactive', '-w', 'json']);
    await same(txn(['bad compare'], [], []), ['-i']);
  });

  await t.test('quoting: double, single (with etcdctl\'s slicing bug) and escapes', async () => {
    await same(txn([], ['put "k with spaces" "v\\twith\\ttabs"', 'get "k with spaces"'], []));
    await same(txn([], ["put 'ab' 'cd'"], []), [], 'single quotes sliced by the word count, 3 words');
    await same(txn([], ["put 'key' 'val' extra"], []), [], 'single quotes sliced by the word count, 4 words');
    await same(txn([], ["put 'k' a b c"], []), [], 'slicing past the word: a Go panic');
    await same(txn([], ["'put'"], []), [], 'a lone single-quoted word: a Go panic');
    await same(txn([], ['put "a\\qb" c'], []), [], 'invalid escape');
    await same(txn([], ['put "\\u00e9t\\u00e9" "\\x41\\101"'], []));
    await same(Buffer.concat([Buffer.from('\nput "'), Buffer.from([0xff, 0xfe]), Buffer.from('" raw\xff\n\n\n', 'latin1')]), [], 'invalid UTF-8 in and out of quotes');
    await same(txn([], ['get "\\xff\\xfe"', 'get raw'], []), ['-w', 'json']);
    await same(txn([], ['put "\\x00nul" "a\\x00b"', 'put "z\\x00" c', 'get "\\x00" --prefix'], []), ['-w', 'fields'], 'NUL bytes in keys and values');
    await same(txn([], ['del "z\\x00" --prefix --prev-kv', 'get "" --from-key --keys-only --limit 2'], []), ['-w', 'json']);
  });

  await t.test('malformed compares', async () => {
    for (const line of [
      'value("a") >= "1"',
      'version("a") >= "1"',
      'version("a") >= "x"',
      'lease("a") = "0"',
      'lease("a") ~ "0"',
      'value("a")="10"',
      'value("a") =',
      'value("a")',
      'value("a) = "10"',
      'value(a) = "10"',
      'value("a") = 10',
      'value("\\q") = "10"',
      'value("a") = "\\q"',
      'foo("a") = "10"',
      'no parenthesis',
      'mod("a") > "99999999999999999999"',
      'create("a") > "1.5"',
    ]) {
      await same(txn([line], ['get a'], []));
    }
  });

  await t.test('malformed requests and input', async () => {
    for (const line of [
      'get',
      'put a',
      'foo a b',
      'put --bogus a b',
      'get -w json a',
      'del -x a',
      'del a b c',
      'get a --prefix --from-key',
      'get a b --prefix',
      'get a --order=x',
      'get a --sort-by=x',
      'get a --consistency=x',
      'get a --limit=x',
      'put --lease=zz a b',
      'put a b --ignore-value',
      '--prev-kv put a b',
      '--sort-by --order',
      "'qq' --prefix",
    ]) {
      await same(txn([], [line], []));
    }
    await same('', [], 'empty input');
    await same('\n', [], 'input ends after the compares');
    await same('\n\n', [], 'input ends after the success requests');
    await same('value("a") = "11"', [], 'no newline at the end of a line');
    await same('\nput a 12\n\nput b 3', [], 'no newline at the end of the failure block');
    await same('  \t \n \nget a\n  \n\n', [], 'white space lines end blocks');
    await same('value("a") = "12"\r\n\r\nget a\r\n\r\n\r\n', [], 'CRLF line ends');
    await same(txn([], ['get a'], []), ['extra-argument']);
  });
});
