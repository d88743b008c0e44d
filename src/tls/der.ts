// ASN.1 DER, as much as etcd-ts needs: reading certificates and CRLs (serial numbers, revoked serials) and writing
// the self-signed certificate of --auto-tls. Node's crypto reads keys and certificates but neither builds a
// certificate nor parses a CRL, and the encoder and reader together are smaller than a dependency.

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

/** One element: its tag byte and where its content lies in the buffer it was read from. */
export interface DerElement {
  readonly tag: number;
  readonly contentStart: number;
  readonly end: number;
}

export class DerError extends Error {}

/** The element starting at `offset` (single-byte tags, definite lengths: what DER allows for X.509). */
export function readElement(buf: Uint8Array, offset: number, limit = buf.length): DerElement {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used in X.509');
  let length = buf[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new DerError('unsupported length');
    if (contentStart + bytes > limit) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + buf[contentStart + i]!;
    contentStart += bytes;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError('truncated content');
  return { tag, contentStart, end };
}

/** The elements inside a constructed element (a SEQUENCE, a SET, an explicit tag). */
export function childrenOf(buf: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readElement(buf, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

export function contentOf(buf: Uint8Array, e: DerElement): Uint8Array {
  return buf.subarray(e.contentStart, e.end);
}

/** An INTEGER's magnitude without leading zero bytes: Go's big.Int Bytes() of a certificate serial. */
export function integerMagnitude(buf: Uint8Array, e: DerElement): Uint8Array {
  if (e.tag !== Tag.Integer) throw new DerError('not an INTEGER');
  let start = e.contentStart;
  while (start < e.end && buf[start] === 0) start++;
  return buf.subarray(start, e.end);
}

/** The serial number of a DER certificate, as Go's x509 holds it (big-endian magnitude). */
export function certificateSerial(der: Uint8Array): Uint8Array {
  const certificate = readElement(der, 0);
  const [tbs] = childrenOf(der, certificate);
  if (tbs === undefined || tbs.tag !== Tag.Sequence) throw new DerError('not a certificate');
  const fields = childrenOf(der, tbs);
  // [0] EXPLICIT version comes first when present
  const serial = fields[0]?.tag === 0xa0 ? fields[1] : fields[0];
  if (serial === undefined) throw new DerError('certificate without a serial number');
  return integerMagnitude(der, serial);
}

// ---- writing ---------------------------------------------------------------------------------------------------

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function element(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...items: Uint8Array[]): Buffer => element(Tag.Sequence, ...items);
export const set = (...items: Uint8Array[]): Buffer => element(Tag.Set, ...items);
/** [n] EXPLICIT, constructed */
export const explicit = (n: number, ...items: Uint8Array[]): Buffer => element(0xa0 | n, ...items);

/** A non-negative INTEGER from its big-endian magnitude (a 0x00 is prepended when the top bit is set). */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const m = magnitude.subarray(start);
  return element(Tag.Integer, m.length === 0 || (m[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), m]) : m);
}

export function smallInteger(n: number): Buffer {
  return unsignedInteger(Buffer.from([n]));
}

export function objectIdentifier(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const base128: number[] = [];
    for (let v = part; ; v = Math.floor(v / 128)) {
      base128.unshift((v & 0x7f) | (base128.length > 0 ? 0x80 : 0));
      if (v < 128) break;
    }
    bytes.push(...base128);
  }
  return element(Tag.ObjectIdentifier, Buffer.from(bytes));
}

export const boolean = (v: boolean): Buffer => element(Tag.Boolean, Buffer.from([v ? 0xff : 0]));
export const octetString = (content: Uint8Array): Buffer => element(Tag.OctetString, content);
export const bitString = (content: Uint8Array, unusedBits = 0): Buffer => element(Tag.BitString, Buffer.from([unusedBits]), content);

/** As Go's asn1 marshals a string: PrintableString when every character allows it, else UTF8String. */
export function directoryString(s: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? element(Tag.PrintableString, Buffer.from(s, 'latin1')) : element(Tag.Utf8String, Buffer.from(s, 'utf8'));
}

/** X.509's Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5), to the second. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  return year < 2050 && year >= 1950 ? element(Tag.UtcTime, Buffer.from(digits.slice(2), 'latin1')) : element(Tag.GeneralizedTime, Buffer.from(digits, 'latin1'));
}
