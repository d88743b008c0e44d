// Go's encoding/csv: reading one record and writing one, with Go's error texts. pflag's string-slice flags
// (etcdctl's --endpoints) split their value with it and print it back with it.

import { isUnicodeSpace } from './unicode.js';
import { decodeRune, type ByteString } from './utf8.js';

export class CsvError extends Error {}

function lengthNL(b: ByteString): number {
  return b.length > 0 && b[b.length - 1] === '\n' ? 1 : 0;
}

/** csv.Reader's line reader over a string: lines keep their "\n"; "\r\n" becomes "\n". */
class Lines {
  private pos = 0;
  numLine = 0;
  constructor(private readonly s: ByteString) {}

  /** [line, eof] */
  read(): [ByteString, boolean] {
    if (this.pos >= this.s.length) return ['', true];
    const nl = this.s.indexOf('\n', this.pos);
    let line: string;
    if (nl < 0) {
      line = this.s.slice(this.pos);
      this.pos = this.s.length;
      if (line.endsWith('\r')) line = line.slice(0, -1);
    } else {
      line = this.s.slice(this.pos, nl + 1);
      this.pos = nl + 1;
    }
    this.numLine++;
    if (line.length >= 2 && line.endsWith('\r\n')) line = line.slice(0, -2) + '\n';
    return [line, false];
  }
}

const ERR_BARE_QUOTE = 'bare " in non-quoted-field';
const ERR_QUOTE = 'extraneous or missing " in quoted-field';

function parseError(startLine: number, line: number, column: number, err: string): CsvError {
  if (startLine !== line) return new CsvError(`record on line ${startLine}; parse error on line ${line}, column ${column}: ${err}`);
  return new CsvError(`parse error on line ${line}, column ${column}: ${err}`);
}

/** csv.NewReader(strings.NewReader(s)).Read(); throws CsvError ("EOF" for no record). */
export function readCsvRecord(s: ByteString): ByteString[] {
  const lines = new Lines(s);
  let line = '';
  let eof = false;
  for (;;) {
    [line, eof] = lines.read();
    if (!eof && line.length === lengthNL(line)) continue; // skip empty lines
    break;
  }
  if (eof) throw new CsvError('EOF');
  const recLine = lines.numLine;
  const fields: ByteString[] = [];
  let col = 1;
  let posLine = lines.numLine;
  for (;;) {
    if (line.length === 0 || line[0] !== '"') {
      const i = line.indexOf(',');
      let field = i >= 0 ? line.slice(0, i) : line.slice(0, line.length - lengthNL(line));
      const j = field.indexOf('"');
      if (j >= 0) throw parseError(recLine, lines.numLine, col + j, ERR_BARE_QUOTE);
      fields.push(field);
      if (i >= 0) {
        line = line.slice(i + 1);
        col += i + 1;
        continue;
      }
      return fields;
    }
    line = line.slice(1);
    col += 1;
    let field = '';
    for (;;) {
      const i = line.indexOf('"');
      if (i >= 0) {
        field += line.slice(0, i);
        line = line.slice(i + 1);
        col += i + 1;
        const [rn] = line.length > 0 ? decodeRune(line, 0) : [-1];
        if (rn === 0x22) {
          field += '"';
          line = line.slice(1);
          col += 1;
        } else if (rn === 0x2c) {
          line = line.slice(1);
          col += 1;
          fields.push(field);
          break;
        } else if (lengthNL(line) === line.length) {
          fields.push(field);
          return fields;
        } else {
          throw parseError(recLine, lines.numLine, col - 1, ERR_QUOTE);
        }
      } else if (line.length > 0) {
        field += line;
        if (eof) {
          fields.push(field);
          return fields;
        }
        col += line.length;
        [line, eof] = lines.read();
        if (line.length > 0) {
          posLine++;
          col = 1;
        }
        if (eof) eof = false;
      } else {
        if (!eof) throw parseError(recLine, posLine, col, ERR_QUOTE);
        fields.push(field);
        return fields;
      }
    }
  }
}

function fieldNeedsQuotes(field: ByteString): boolean {
  if (field === '') return false;
  if (field === '\\.') return true;
  if (/[\n\r",]/.test(field)) return true;
  return isUnicodeSpace(decodeRune(field, 0)[0]);
}

/** csv.Writer's encoding of one record, without the trailing newline (pflag's string-slice String()). */
export function writeCsvRecord(fields: ByteString[]): ByteString {
  return fields.map((f) => (fieldNeedsQuotes(f) ? '"' + f.replace(/"/g, '""') + '"' : f)).join(',');
}
