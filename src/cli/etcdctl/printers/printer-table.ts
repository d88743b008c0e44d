// `-w table` (printer_table.go): only the endpoint commands print tables; the KV commands fail after their request.

import { type ByteString, uint64String, utf8ToByteString } from '../../../gocompat/index.js';
import { stdout } from '../output.js';
import { unsupported, type EndpointHealth, type EndpointStatus, type Printer } from './printer.js';
import { humanizeBytes, renderTable } from './tablewriter.js';
import type { MemberListResponse } from '../../../proto/index.js';

const STATUS_HEADER = ['endpoint', 'ID', 'version', 'db size', 'is leader', 'is learner', 'raft term', 'raft index', 'raft applied index', 'errors'];
const MEMBER_HEADER = ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'];
const HEALTH_HEADER = ['endpoint', 'health', 'took', 'error'];

/** makeEndpointStatusTable's rows (also the simple format's comma-separated lines). */
export function endpointStatusRows(list: EndpointStatus[]): ByteString[][] {
  return list.map(({ endpoint, status }) => [
    endpoint,
    BigInt.asUintN(64, BigInt(status.header?.member_id ?? 0)).toString(16),
    status.version ?? '',
    humanizeBytes(Number(status.dbSize ?? 0)),
    String(BigInt(status.leader ?? 0) === BigInt(status.header?.member_id ?? 0)),
    String(status.isLearner ?? false),
    uint64String(status.raftTerm ?? 0),
    uint64String(status.raftIndex ?? 0),
    uint64String(status.raftAppliedIndex ?? 0),
    (status.errors ?? []).join(', '),
  ]);
}

/** makeMemberListTable's rows (also the simple format's comma-separated lines). */
export function memberListRows(r: MemberListResponse): ByteString[][] {
  return (r.members ?? []).map((m) => [
    BigInt.asUintN(64, BigInt(m.ID ?? 0)).toString(16),
    (m.name ?? '') === '' ? 'unstarted' : 'started',
    utf8ToByteString(m.name ?? ''),
    utf8ToByteString((m.peerURLs ?? []).join(',')),
    utf8ToByteString((m.clientURLs ?? []).join(',')),
    m.isLearner === true ? 'true' : 'false',
  ]);
}

export function endpointHealthRows(list: EndpointHealth[]): ByteString[][] {
  return list.map((h) => [h.endpoint, String(h.health), h.took, h.error]);
}

export function tablePrinter(): Printer {
  return {
    ...unsupported('table'),
    endpointHealth(list: EndpointHealth[]): void {
      stdout(renderTable(HEALTH_HEADER, endpointHealthRows(list)));
    },
    endpointStatus(list: EndpointStatus[]): void {
      stdout(renderTable(STATUS_HEADER, endpointStatusRows(list)));
    },
    memberList(r: MemberListResponse): void {
      stdout(renderTable(MEMBER_HEADER, memberListRows(r)));
    },
  };
}
