// Go's base64.StdEncoding, as encoding/json applies it to []byte fields. Decode: standard alphabet, padding
// required, CR and LF skipped, non-zero trailing bits accepted; errors name the same byte offset Go does
// ("illegal base64 data at input byte N"), because etcd's gateway sends that text back to the client.

/** base64.CorruptInputError. */
export class CorruptInputError extends Error {
  constructor(readonly offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
const PAD = 0x3d;

function corrupt(at: number): CorruptInputError {
  return new CorruptInputError(at);
}

const isNewline = (c: number | undefined): boolean => c === 0x0a || c === 0x0d;

/** base64.StdEncoding.Decode; throws CorruptInputError. */
export function base64Decode(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(Math.floor((src.length * 3) / 4) + 3);
  let n = 0;
  let si = 0;
  for (;;) {
    // one quantum of up to four symbols (Go's decodeQuantum)
    const q = [0, 0, 0, 0];
    let dlen = 4;
    let done = false;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return out.subarray(0, n);
        throw corrupt(si - j); // padding is required: a short final quantum is an error
      }
      const c = src[si]!;
      si++;
      const v = DECODE[c]!;
      if (v >= 0) {
        q[j] = v;
        continue;
      }
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== PAD) throw corrupt(si - 1);
      if (j < 2) throw corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) throw corrupt(src.length);
        if (src[si] !== PAD) throw corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      if (si < src.length) throw corrupt(si); // trailing garbage after padding
      dlen = j;
      done = true;
      break;
    }
    const val = (q[0]! << 18) | (q[1]! << 12) | (q[2]! << 6) | q[3]!;
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    for (let k = 0; k < dlen - 1; k++) out[n++] = bytes[k]!;
    if (done) return out.subarray(0, n);
  }
}

/** base64.StdEncoding.EncodeToString (Node's encoder writes the same padded standard alphabet). */
export function base64Encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}
