// src/gocompat against values Go itself produced (test/helpers/go-reference.ts): every row of every section.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goReference, unhex } from '../helpers/go-reference.js';
import {
  base64Decode,
  canBackquote,
  formatDuration,
  formatTabbed,
  goUnmarshal,
  jsonQuote,
  jsonQuoteText,
  newUrlsError,
  parseBool,
  parseDuration,
  parseInt64,
  parseUint64,
  quote,
  quoteRune,
  readCsvRecord,
  trimSpace,
  unquote,
  writeCsvRecord,
  type JsonNode,
} from '../../src/gocompat/index.js';

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
  for (const [input, expected] of section('JSON')) assert.equal(jsonQuote(unhex(input!)), unhex(expected!), `json(${input})`);
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

test('encoding/csv, as pflag splits --endpoints', () => {
  for (const row of section('CSV')) {
    const input = unhex(row[0]!);
    if (row[1] === 'E') assert.equal(errorMessage(() => readCsvRecord(input)), unhex(row[2]!), `csv(${row[0]})`);
    else assert.equal(readCsvRecord(input).join('|'), unhex(row[1]!), `csv(${row[0]})`);
  }
});

test('text/tabwriter with etcdctl settings', () => {
  const [[expected]] = section('TABWRITER') as [[string]];
  const input =
    'NAME:\n\tfoo - bar\n\nCOMMANDS:\n\ta\tshort one\n\tlonger name\tx\n\tmid name\ty\n\nOPTIONS:\n' +
    '  -a, --alpha="x"\tthe a\n      --b[=false]\tthe b\n      --a-very-long-flag-name=0\tz\n\n';
  assert.equal(formatTabbed(input), unhex(expected));
});


test('strconv.QuoteRune (pflag\'s shorthand errors)', () => {
  for (const [r, expected] of section('QUOTERUNE')) assert.equal(quoteRune(Number(r)), unhex(expected!), `QuoteRune(${r})`);
});

test("strconv.CanBackquote (fmt's %#q in cobra's unknown help topic)", () => {
  for (const [input, expected] of section('CANBACKQUOTE')) assert.equal(canBackquote(unhex(input!)), expected === 'true', `CanBackquote(${input})`);
});

test('strconv.Unquote', () => {
  for (const row of section('UNQUOTE')) {
    // Go's only error text here is "invalid syntax"; the port answers null for it
    const expected = row[1] === 'E' ? null : unhex(row[1]!);
    if (row[1] === 'E') assert.equal(unhex(row[2]!), 'invalid syntax');
    assert.equal(unquote(unhex(row[0]!)), expected, `Unquote(${unhex(row[0]!)})`);
  }
});

test('strconv.ParseUint(s, 0, 64), values and error messages', () => {
  for (const row of section('PARSEUINT')) {
    const input = unhex(row[0]!);
    if (row[1] === 'E') assert.equal(errorMessage(() => parseUint64(input, 0)), unhex(row[2]!), `ParseUint(${input})`);
    else assert.equal(parseUint64(input, 0), BigInt(row[1]!), `ParseUint(${input})`);
  }
});

test('strconv.ParseBool', () => {
  for (const row of section('PARSEBOOL')) {
    const input = unhex(row[0]!);
    if (row[1] === 'E') assert.equal(errorMessage(() => parseBool(input)), unhex(row[2]!), `ParseBool(${input})`);
    else assert.equal(parseBool(input), row[1] === 'true', `ParseBool(${input})`);
  }
});

test('strings.TrimSpace', () => {
  for (const [input, expected] of section('TRIMSPACE')) assert.equal(trimSpace(unhex(input!)), unhex(expected!), `TrimSpace(${input})`);
});

test('encoding/csv Writer, as pflag prints a string slice', () => {
  for (const [record, expected] of section('CSVWRITE')) {
    assert.equal(writeCsvRecord(unhex(record!).split('|')), unhex(expected!), `csv.Write(${unhex(record!)})`);
  }
});

test('base64.StdEncoding.Decode, values and error messages', () => {
  for (const row of section('BASESTD')) {
    const input = Buffer.from(row[0]!, 'hex');
    if (row[1] === 'E') assert.equal(errorMessage(() => base64Decode(input)), unhex(row[2]!), `Decode(${input.toString('latin1')})`);
    else assert.equal(base64Decode(input).toString('hex'), row[1], `Decode(${input.toString('latin1')})`);
  }
});

/** A decoded tree written back as json.Marshal of an interface{} writes it (objects with sorted keys). */
function marshalNode(n: JsonNode): string {
  switch (n.t) {
    case 'obj':
      return `{${[...n.fields.keys()].sort().map((k) => `${jsonQuoteText(k)}:${marshalNode(n.fields.get(k)!)}`).join(',')}}`;
    case 'arr':
      return `[${n.items.map(marshalNode).join(',')}]`;
    case 'str':
      return jsonQuoteText(n.value);
    case 'num':
      return String(Number(n.raw)); // float64, as interface{} holds numbers
    case 'bool':
      return String(n.value);
    case 'null':
      return 'null';
  }
}

test('encoding/json decoding: error texts for every byte, and strings as Go decodes them', () => {
  for (const row of section('JSONDECODE')) {
    const input = Buffer.from(row[0]!, 'hex');
    const label = `Unmarshal(${JSON.stringify(input.toString('latin1'))})`;
    if (row[1] === 'E') assert.equal(errorMessage(() => goUnmarshal(input)), Buffer.from(row[2]!, 'hex').toString('utf8'), label);
    else assert.equal(marshalNode(goUnmarshal(input)), Buffer.from(row[1]!, 'hex').toString('utf8'), label);
  }
});

test("etcd's types.NewURLs over net/url.Parse and net.SplitHostPort", () => {
  for (const [input, expected] of section('NEWURLS')) {
    const want = unhex(expected!);
    assert.equal(newUrlsError([unhex(input!)]), want === 'OK' ? null : want, `NewURLs(${unhex(input!)})`);
  }
});
