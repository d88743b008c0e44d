// The files behind one side's TLS: its certificate and key (reloaded when they change, so rotation needs no restart),
// its trusted CA (read once at start, as etcd builds its pool once) and its CRL (re-read when it changes; etcd reads
// it on every connection). etcd reads the certificate and key on every handshake; here the files are stat()ed at most
// once per TLS_FILES_CHECK_INTERVAL_MS and reloaded when their size, inode or times changed. While a reload fails (a
// file half written, a key that does not match yet) handshakes fail with the error, as etcd's would, and the files
// are looked at again on the next handshake, not a second later.

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { TLS_FILES_CHECK_INTERVAL_MS } from '../config/limits.js';
import { revokedSerials } from './crl.js';
import { fileErrorText } from './go-errors.js';
import type { TlsInfo } from './info.js';
import { tlsLog } from './log.js';

/** A failure to load a side's files, with Go's text (`open server.crt: no such file or directory`, ...). */
export class TlsFileError extends Error {}

function readGo(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new TlsFileError(fileErrorText(file, err));
  }
}

/** Identity of a file's current content as far as stat tells. */
function stamp(file: string): string {
  try {
    const s = fs.statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? ''}`;
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/;

/** tls.X509KeyPair's checks with Go's words, then Node's own context (which checks that the key matches). */
function secureContextFrom(info: TlsInfo, cert: Buffer, key: Buffer, ca: Buffer | null): tls.SecureContext {
  if (!PEM_BLOCK.test(cert.toString('latin1'))) throw new TlsFileError('tls: failed to find any PEM data in certificate input');
  if (!PEM_BLOCK.test(key.toString('latin1'))) throw new TlsFileError('tls: failed to find any PEM data in key input');
  try {
    return tls.createSecureContext({
      cert,
      key,
      ...(ca !== null ? { ca } : {}),
      ciphers: info.ciphers,
      minVersion: info.minVersion,
      maxVersion: info.maxVersion,
    });
  } catch (err) {
    const message = (err as Error).message;
    if (/key values mismatch/.test(message)) throw new TlsFileError('tls: private key does not match public key');
    if (/no cipher match/.test(message)) throw new TlsFileError('tls: no cipher suite in --cipher-suites is available');
    throw new TlsFileError(`tls: ${message}`);
  }
}

/** A side's certificate, key and CA, as a SecureContext that follows the files. */
export class CertificateFiles {
  private context: tls.SecureContext | null = null;
  private failure: TlsFileError | null = null;
  private stamps = '';
  private checkedAt = -Infinity;
  private readonly ca: Buffer | null;

  /**
   * Reads everything once, as etcd's baseConfig does before it listens: a missing or bad file fails the start.
   * `now` is a monotonic clock in ms (tests pass their own).
   */
  constructor(
    readonly info: TlsInfo,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (info.keyFile === '' || info.certFile === '') {
      throw new TlsFileError(`KeyFile and CertFile must both be present[key: ${info.keyFile}, cert: ${info.certFile}]`);
    }
    if (info.allowedCn !== '' && info.allowedHostname !== '') {
      throw new TlsFileError(`AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(info.allowedCn)}, hostname=${JSON.stringify(info.allowedHostname)})`);
    }
    this.ca = info.trustedCaFile === '' ? null : readCaPool(info.trustedCaFile);
    this.reload();
    if (this.failure !== null) throw this.failure;
  }

  /** The context for the next handshake; throws the load error while the files do not load. */
  current(): tls.SecureContext {
    const t = this.now();
    if (this.failure !== null || t - this.checkedAt >= TLS_FILES_CHECK_INTERVAL_MS) {
      this.checkedAt = t;
      if (this.stampNow() !== this.stamps) this.reload();
    }
    if (this.failure !== null) throw this.failure;
    return this.context!;
  }

  private stampNow(): string {
    return `${stamp(this.info.certFile)}|${stamp(this.info.keyFile)}`;
  }

  private reload(): void {
    const stamps = this.stampNow();
    try {
      const context = secureContextFrom(this.info, readGo(this.info.certFile), readGo(this.info.keyFile), this.ca);
      const reloaded = this.context !== null;
      this.context = context;
      this.failure = null;
      if (reloaded) tlsLog('info', 'reloaded certificate files', { 'cert-file': this.info.certFile, 'key-file': this.info.keyFile });
    } catch (err) {
      if (!(err instanceof TlsFileError)) throw err;
      // etcd's GetCertificate words (it says "peer" on both sides)
      const missing = err.message.includes('no such file or directory');
      if (this.context !== null || this.failure?.message !== err.message) {
        tlsLog('warn', missing ? 'failed to find peer cert files' : 'failed to create peer certificate', { 'cert-file': this.info.certFile, 'key-file': this.info.keyFile, error: err.message });
      }
      this.context = null;
      this.failure = err;
    }
    this.stamps = stamps;
  }
}

/** tlsutil.NewCertPool: every PEM block of the file must be a certificate. */
function readCaPool(file: string): Buffer {
  const pem = readGo(file);
  const text = pem.toString('latin1');
  const blocks = text.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?-----END [A-Z0-9 ]+-----/g) ?? [];
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new TlsFileError('x509: malformed certificate');
    }
  }
  return pem;
}

/** A side's CRL file: its revoked serials, re-read when the file changes. */
export class RevocationList {
  private serials: Set<string> | null = null;
  private failure: Error | null = null;
  private stamp = '';
  private checkedAt = -Infinity;

  constructor(
    readonly file: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The revoked serials (hex); throws Go's error while the file cannot be read or parsed. */
  current(): Set<string> {
    const t = this.now();
    if (this.serials === null || t - this.checkedAt >= TLS_FILES_CHECK_INTERVAL_MS) {
      this.checkedAt = t;
      const s = stamp(this.file);
      if (s !== this.stamp || (this.serials === null && this.failure === null)) {
        this.stamp = s;
        try {
          this.serials = revokedSerials(readGo(this.file));
          this.failure = null;
        } catch (err) {
          this.serials = null;
          this.failure = err as Error;
        }
      }
    }
    if (this.failure !== null) throw this.failure;
    return this.serials!;
  }
}
