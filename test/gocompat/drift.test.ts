// The places where etcd-ts's copies of Go's behaviour had drifted apart before they became one (src/gocompat), each
// checked against what Go does (the values agree with test/helpers/go-reference.ts and with etcd 3.4 itself).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  jsonQuote,
  jsonQuoteText,
  parseDuration,
  parseInt64,
  parseUint64,
  utf8ToByteString,
} from '../../src/gocompat/index.js';
import { ConfigError, parseFlags, parseGoInteger } from '../../src/config/index.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the configuration to be refused');
}

test('time.ParseDuration takes a signed zero and both micro signs', () => {
  assert.equal(parseDuration('-0'), 0n);
  assert.equal(parseDuration('+0'), 0n);
  assert.equal(parseDuration(utf8ToByteString('5\u03bcs')), 5000n, 'U+03BC GREEK SMALL LETTER MU');
  assert.equal(parseDuration(utf8ToByteString('5\u00b5s')), 5000n, 'U+00B5 MICRO SIGN');
  assert.throws(() => parseDuration('-'), /time: invalid duration "-"/);
});

test("etcd's duration flags parse as Go's ParseDuration (the flags' own copy refused -0, +0 and 5µs)", () => {
  for (const [text, ms] of [['-0', 0], ['+0', 0], ['0', 0], ['5\u03bcs', 0.005], ['5\u00b5s', 0.005], ['1.1s', 1100], ['10m0s', 600_000]] as const) {
    assert.equal(parseFlags(['--lease-checkpoint-interval', text], {}).config.leaseCheckpointIntervalMs, ms, text);
  }
  assert.equal(
    refusal(() => parseFlags(['--lease-checkpoint-interval', '5'], {})),
    'invalid value "5" for flag -lease-checkpoint-interval: parse error',
  );
  assert.equal(
    refusal(() => parseFlags(['--lease-checkpoint-interval', '2562047h47m16.854775808s'], {})),
    'invalid value "2562047h47m16.854775808s" for flag -lease-checkpoint-interval: parse error',
    'past int64 nanoseconds, as Go',
  );
});

test("underscores in integers: only base 0 takes them, and only between digits or after a prefix", () => {
  for (const [text, value] of [['1_000', 1000n], ['0x_1f', 31n], ['0b1_0', 2n], ['0_7', 7n], ['-1_0', -10n], ['0o_7', 7n]] as const) {
    assert.equal(parseInt64(text, 0), value, text);
  }
  for (const text of ['_1', '1_', '1__0', '0x_', '0_x1', '0__1', '-_1']) {
    assert.throws(() => parseInt64(text, 0), { message: `strconv.ParseInt: parsing "${text}": invalid syntax` }, text);
  }
  assert.throws(() => parseInt64('1_0', 10), { message: 'strconv.ParseInt: parsing "1_0": invalid syntax' }, 'base 10 takes none');
  assert.equal(parseUint64('0x_FF', 0), 255n);
  assert.throws(() => parseUint64('+5', 0), { message: 'strconv.ParseUint: parsing "+5": invalid syntax' });
});

test('an integer that overflows before a bad character is out of range, as Go reports it first', () => {
  assert.throws(() => parseUint64('99999999999999999999x', 0), { message: 'strconv.ParseUint: parsing "99999999999999999999x": value out of range' });
  // the flags' own copy said "parse error" here
  assert.equal(parseGoInteger('99999999999999999999x', false), 'value out of range');
  assert.equal(parseGoInteger('99999999999999999999x', true), 'value out of range');
  assert.equal(parseGoInteger('9223372036854775808_', true), 'parse error', 'underscores are checked after the digits');
  assert.equal(
    refusal(() => parseFlags(['--max-request-bytes', '99999999999999999999x'], {})),
    'invalid value "99999999999999999999x" for flag -max-request-bytes: value out of range',
  );
});

test('JSON string quoting keeps an escaped backslash followed by b or f (the gateway copy rewrote it)', () => {
  // the Go string `a\bc`: a, backslash, b, c; json.Marshal gives "a\\bc"
  assert.equal(jsonQuote('a\\bc'), '"a\\\\bc"');
  assert.equal(jsonQuote('a\\fc'), '"a\\\\fc"');
  assert.equal(jsonQuoteText('http://h\\b:1'), '"http://h\\\\b:1"');
  assert.equal(jsonQuoteText('\\\\b'), '"\\\\\\\\b"');
  // a real backspace and form feed are \u0008 and \u000c in Go 1.19
  assert.equal(jsonQuoteText('a\bc\f'), '"a\\u0008c\\u000c"');
  assert.equal(jsonQuoteText('<a&b>\u2028\u2029\u007f'), '"\\u003ca\\u0026b\\u003e\\u2028\\u2029\u007f"');
  assert.equal(jsonQuoteText('日本語'), '"日本語"');
});

test("etcd's URL flags: types.NewURLs' checks and texts (the flags' own copy took a trailing slash)", () => {
  const message = (url: string): string => refusal(() => parseFlags(['--listen-peer-urls', url], {}));
  assert.equal(message('http://h:1/'), 'invalid value "http://h:1/" for flag -listen-peer-urls: URL must not contain a path: http://h:1/');
  assert.equal(message('http://h:port'), 'invalid value "http://h:port" for flag -listen-peer-urls: parse "http://h:port": invalid port ":port" after host');
  assert.equal(message('unix://h:1'), 'invalid value "unix://h:1" for flag -listen-peer-urls: URL scheme must be http or https: unix://h:1');
  // Go takes these, but the listeners' URL parser does not: refused at once rather than when listening
  assert.equal(message('http://:1'), 'invalid value "http://:1" for flag -listen-peer-urls: URL address does not have the form "host:port": http://:1');
  assert.equal(message('http://h:99999'), 'invalid value "http://h:99999" for flag -listen-peer-urls: URL address does not have the form "host:port": http://h:99999');
  assert.deepEqual(parseFlags(['--listen-peer-urls', ' http://h:1 ,https://[::1]:2380?x'], {}).config.listenPeerUrls, ['http://h:1', 'https://[::1]:2380?x']);
});
