// --client-crl-file / --peer-crl-file, as etcd 3.4 uses them (pkg/transport/listener_tls.go checkCRL): after the
// handshake, the serial number of every certificate the peer presented is looked up among the CRL's revoked serials;
// a match refuses the connection with `transport: certificate serial <hex> revoked`. Like etcd, the CRL's signature
// and dates are not checked: the file is the operator's list of serials to refuse.

import { childrenOf, DerError, integerMagnitude, readElement, Tag } from './der.js';

const PEM_CRL = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/;

/**
 * The revoked serials of a CRL file's bytes (PEM `X509 CRL` or DER, as Go's x509.ParseCRL reads it), each as the
 * lowercase hex of its magnitude, the form etcd's message prints.
 */
export function revokedSerials(file: Uint8Array): Set<string> {
  let der: Uint8Array = file;
  const text = Buffer.from(file).toString('latin1');
  if (text.startsWith('-----BEGIN X509 CRL')) {
    const match = PEM_CRL.exec(text);
    if (match !== null) der = Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
  }
  try {
    const list = readElement(der, 0);
    if (list.tag !== Tag.Sequence || list.end !== der.length) throw new DerError('trailing data');
    const [tbs] = childrenOf(der, list);
    if (tbs === undefined || tbs.tag !== Tag.Sequence) throw new DerError('no tbsCertList');
    const fields = childrenOf(der, tbs);
    let i = fields[0]?.tag === Tag.Integer ? 1 : 0; // version, present in v2 CRLs
    i += 3; // signature algorithm, issuer, thisUpdate
    if (fields[i]?.tag === Tag.UtcTime || fields[i]?.tag === Tag.GeneralizedTime) i++; // nextUpdate
    const serials = new Set<string>();
    const revoked = fields[i];
    if (revoked === undefined || revoked.tag !== Tag.Sequence) return serials;
    for (const entry of childrenOf(der, revoked)) {
      const [serial] = childrenOf(der, entry);
      if (serial === undefined) throw new DerError('revoked entry without a serial');
      serials.add(Buffer.from(integerMagnitude(der, serial)).toString('hex'));
    }
    return serials;
  } catch (err) {
    if (err instanceof DerError) throw new Error(`x509: malformed crl: ${err.message}`);
    throw err;
  }
}

/** checkCRL's message for a revoked serial (hex of its magnitude bytes). */
export function revokedMessage(serialHex: string): string {
  return `transport: certificate serial ${serialHex} revoked`;
}
