// TLS for every listener and the peer transport, as etcd 3.4 does it (pkg/transport, embed): etcd's flags, its
// start-up checks and messages, certificates reloaded when their files change, CRLs, cipher suites by Go's names,
// TLS versions, auto TLS, allowed CN / hostname, peer SAN checks, and `rejected connection` logs. The listeners
// (src/frontend, src/binary, src/transport) hand accepted connections to a TlsServer; the verified client CN is
// read back with clientCommonName() for authorisation.

export { TlsServer, type Alpn, type TlsServerOptions } from './accept.js';
export { TlsDialer } from './dial.js';
export { clientCommonName, isProxiedIdentityAddress, proxiedIdentity, registerProxiedIdentity, setClientIdentity, type ClientIdentity, type ProxiedIdentity } from './identity.js';
export { describeTlsInfo, isEmpty, memberTlsInfo, TlsConfigError, type MemberTlsInfo, type TlsInfo } from './info.js';
export { tlsChannel, type TlsLogMessage } from './log.js';
export { CertificateFiles, RevocationList, TlsFileError } from './material.js';
export { MemberTls, type PeerTls } from './member.js';
export { selectCipherSuites, CipherSuiteError } from './cipher-suites.js';
export { revokedSerials } from './crl.js';
export { certificateSerial } from './der.js';
export { selfCert, selfSignedCertificate } from './self-cert.js';
export { checkCertSan, commonNameOf, sansOf, verifyHostname } from './verify.js';
export { listenersOf, type UrlListener } from './listen-urls.js';
