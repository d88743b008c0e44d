// Go's text behaviour that etcd's users see byte for byte, in one copy: strconv, time durations, encoding/json
// (string encoding and a decoder with Go's error texts), base64, encoding/csv, text/tabwriter, net/url as etcd's
// types.NewURLs uses it, fmt's scanning verbs, and the UTF-8 and Unicode rules under them. Checked against values Go
// itself produced (test/helpers/go-reference.ts). Used by cli/ (etcdctl-ts), http/ (the JSON gateway) and config/.
// Pure functions only: no I/O.

export {
  type ByteString,
  RUNE_ERROR,
  byteStringToBytes,
  byteStringToUtf8,
  bytesToByteString,
  decodeRune,
  decodeUtf8,
  encodeRune,
  runeCount,
  utf8ToByteString,
  validRune,
} from './utf8.js';
export { isPrint, isScanSpace, isUnicodeSpace, trimSpace } from './unicode.js';
export {
  ERR_RANGE,
  ERR_SYNTAX,
  NumError,
  canBackquote,
  int64String,
  parseBool,
  parseInt64,
  parseUint64,
  quote,
  quoteRune,
  uint64String,
  unquote,
} from './strconv.js';
export { DurationError, formatDuration, parseDuration } from './time.js';
export { jsonQuote, jsonQuoteText } from './json.js';
export { GoJsonError, decodeNext, goUnmarshal, type DecodeResult, type JsonNode } from './json-decode.js';
export { CorruptInputError, base64Decode, base64Encode } from './base64.js';
export { CsvError, readCsvRecord, writeCsvRecord } from './csv.js';
export { TabWriter, formatTabbed, type TabWriterOptions } from './tabwriter.js';
export { checkBindUrlsError, ETCD_URL_SCHEMES, newUrlsError } from './url.js';
export { ScanError, Scanner } from './fmt-scan.js';
