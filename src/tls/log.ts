// What the TLS layer has to say, as etcd's zap logger says it (message and field names), on the diagnostics channel
// `etcd-ts:tls`: { level, msg, fields }. The etcd-ts command writes each as a JSON log line; tests subscribe to it.
// Messages: `rejected connection` (a handshake or a post-handshake check failed: remote-addr, server-name,
// ip-addresses and dns-names when the peer presented certificates, error), the start-up warnings about http://
// listeners with certificates, `starting with client TLS` / `starting with peer TLS`, auto TLS's `created cert file`,
// and certificate reload failures.

import diagnostics from 'node:diagnostics_channel';

export interface TlsLogMessage {
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export const tlsChannel = diagnostics.channel('etcd-ts:tls');

export function tlsLog(level: TlsLogMessage['level'], msg: string, fields: Record<string, unknown> = {}): void {
  if (tlsChannel.hasSubscribers) tlsChannel.publish({ level, msg, fields } satisfies TlsLogMessage);
}
