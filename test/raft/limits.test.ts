// Scripted scenarios for Raft's own bounds: the committed entries one Ready hands to the application (by count and
// by bytes: the member applies one Ready's entries in one LMDB transaction), and the uncommitted tail a leader
// accepts before it drops proposals (etcd-io/raft's MaxUncommittedEntriesSize). Each narrates into a trace, printed
// when an assertion fails and always with RAFT_TRACE=1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, RAFT_UNCOMMITTED_BYTES_MAX } from '../../src/config/limits.js';
import {
  bootstrapEntries,
  encodeConfChange,
  EntryType,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  RawNode,
  StateType,
  type Entry,
  type NodeId,
} from '../../src/raft/index.js';
import { Network, scenario, Trace } from '../helpers/raft-network.js';

const decoder = new TextDecoder();
/** what Raft counts per entry on top of its payload when it bounds bytes (src/raft/storage.ts limitSize) */
const ENTRY_OVERHEAD_BYTES = 24;



function elect(net: Network, trace: Trace, id: NodeId): void {
  const n = net.get(id);
  for (let attempt = 0; attempt < 3 && n.raft.state !== StateType.Leader; attempt++) {
    n.node.campaign();
    net.settle();
  }
  assert.equal(n.raft.state, StateType.Leader, `S${id} should have won an election`);
  trace.say(`S${id} leads term ${n.raft.term}`);
}

/** A payload of `bytes` bytes whose text starts with `name` (so the trace and the applied lists stay readable). */
function payload(name: string, bytes: number): Uint8Array {
  assert.ok(bytes >= name.length);
  return new TextEncoder().encode(name.padEnd(bytes, '.'));
}

/** Proposes at `id` and settles; false when the proposal was dropped. */
function propose(net: Network, trace: Trace, id: NodeId, data: Uint8Array): boolean {
  const name = decoder.decode(data).replace(/\.+$/, '') || '(empty)';
  try {
    net.get(id).node.propose(data);
  } catch (err) {
    if (!(err instanceof ProposalDroppedError)) throw err;
    trace.say(`S${id} drops ${name} (${data.length} bytes): ${err.message}`);
    return false;
  }
  trace.say(`S${id} accepts ${name} (${data.length} bytes)`);
  net.settle();
  return true;
}

/** The names of the normal entries a node applied, in order. */
function appliedNames(net: Network, id: NodeId): string[] {
  return net.get(id).applied.map((p) => p.replace(/\.+$/, ''));
}

function entryBytes(entries: Entry[]): number {
  return entries.reduce((n, e) => n + e.data.length + ENTRY_OVERHEAD_BYTES, 0);
}

// ---- committed entries per Ready ----------------------------------------------------------------------------------

test('the Ready bounds default to the member limits they enforce', () => {
  const storage = new MemoryStorage();
  const node = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage, random: () => 0.5 });
  assert.equal(node.raft.raftLog.maxNextEntsCount, DEFAULT_LIMITS.proposalBatchEntriesMax);
  assert.equal(node.raft.raftLog.maxNextEntsBytes, DEFAULT_LIMITS.proposalBatchBytesMax);
  assert.equal(node.raft.maxUncommittedSize, RAFT_UNCOMMITTED_BYTES_MAX);
  assert.throws(() => new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage, random: () => 0.5, maxCommittedEntriesPerReady: 0 }), /max committed entries per ready/);
});

test('a restart replaying a committed log hands it out in Readies of at most maxCommittedEntriesPerReady entries', () => {
  const storage = new MemoryStorage();
  const boot = bootstrapEntries([{ id: 1n, context: new Uint8Array() }], encodeConfChange);
  storage.append(boot.entries);
  const written: Entry[] = [];
  for (let i = 0; i < 10; i++) written.push({ term: 2, index: boot.entries.length + 1 + i, type: EntryType.Normal, data: payload(`e${i}`, 4) });
  storage.append(written);
  const last = written[written.length - 1]!.index;
  storage.setHardState({ term: 2, vote: 1n, commit: last });
  const node = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage, random: () => 0.5, maxCommittedEntriesPerReady: 3 });
  const batches: number[][] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    assert.ok(rd.committedEntries.length <= 3, `a Ready carried ${rd.committedEntries.length} committed entries`);
    if (rd.committedEntries.length > 0) batches.push(rd.committedEntries.map((e) => e.index));
    node.advance(rd);
  }
  assert.deepEqual(batches.flat(), Array.from({ length: last }, (_, i) => i + 1), 'every committed entry, once, in order');
  assert.deepEqual(batches.map((b) => b.length), [3, 3, 3, 2], `11 entries in Readies of 3: ${JSON.stringify(batches)}`);
});

scenario('a backlog committed at once reaches the application in Readies within both bounds, on every member', (trace) => {
  // 100 bytes hold three 8-byte entries (32 bytes each as counted), so for those the count bound is the one that binds
  const net = trace.watch([1n, 2n, 3n], { maxCommittedEntriesPerReady: 2, maxCommittedSizePerReady: 100 });
  elect(net, trace, 1n);
  const ready: Record<string, number[]> = {};
  net.onReady = (id, rd) => {
    const n = rd.committedEntries.length;
    if (n === 0) return;
    (ready[`S${id}`] ??= []).push(n);
    assert.ok(n <= 2, `S${id}: a Ready carried ${n} committed entries`);
    assert.ok(n === 1 || entryBytes(rd.committedEntries) <= 100, `S${id}: a Ready carried ${entryBytes(rd.committedEntries)} bytes in ${n} entries`);
  };
  trace.say('S1\'s appends are lost: what it accepts stays uncommitted');
  const restore = net.lose((m) => m.type === MessageType.App && m.from === 1n);
  const names: string[] = [];
  for (let i = 0; i < 8; i++) {
    names.push(`small${i}`);
    assert.ok(propose(net, trace, 1n, payload(`small${i}`, 8)));
  }
  for (let i = 0; i < 3; i++) {
    names.push(`large${i}`);
    assert.ok(propose(net, trace, 1n, payload(`large${i}`, 60)));
  }
  names.push('huge');
  assert.ok(propose(net, trace, 1n, payload('huge', 500)));
  trace.show(net);
  assert.deepEqual(appliedNames(net, 1n), [], 'nothing committed yet');
  restore();
  trace.say('the appends get through: the whole backlog commits at once');
  net.tickAll();
  net.settle();
  trace.show(net);
  for (const id of [1n, 2n, 3n]) assert.deepEqual(appliedNames(net, id), names, `S${id} applied everything once, in order`);
  trace.say(`committed entries per Ready: ${JSON.stringify(ready)}`);
  for (const id of ['S1', 'S2', 'S3']) {
    assert.ok(ready[id]!.filter((n) => n === 2).length >= 4, `${id}: the eight small entries come two by two`);
    assert.ok(ready[id]!.filter((n) => n === 1).length >= 4, `${id}: two 60-byte entries pass 100 bytes: they come one by one, as does the 500-byte one`);
  }
});

// ---- the uncommitted tail of a leader -----------------------------------------------------------------------------

scenario('a leader drops proposals once its uncommitted tail would pass the bound, and takes them again after commit', (trace) => {
  const net = trace.watch([1n, 2n, 3n], { maxUncommittedEntriesSize: 100 });
  elect(net, trace, 1n);
  trace.say('S1\'s appends are lost: nothing it accepts can commit');
  const restore = net.lose((m) => m.type === MessageType.App && m.from === 1n);
  assert.ok(propose(net, trace, 1n, payload('a', 30)));
  assert.ok(propose(net, trace, 1n, payload('b', 30)));
  assert.ok(propose(net, trace, 1n, payload('c', 30)));
  assert.equal(net.get(1n).raft.uncommittedSize, 90);
  assert.equal(propose(net, trace, 1n, payload('d', 30)), false, '90 + 30 bytes would pass 100: dropped');
  assert.equal(propose(net, trace, 2n, payload('d2', 30)), true, 'a follower forwards it...');
  assert.equal(net.get(1n).raft.uncommittedSize, 90, '...and the leader drops it all the same');
  assert.ok(propose(net, trace, 1n, payload('e', 10)), '90 + 10 does not pass 100');
  assert.equal(propose(net, trace, 1n, payload('f', 1)), false, 'the bound is full');
  assert.ok(propose(net, trace, 1n, new Uint8Array()), 'an empty entry is never refused');
  trace.show(net);

  restore();
  trace.say('the appends get through: the tail commits');
  net.tickAll();
  net.settle();
  trace.show(net);
  for (const id of [1n, 2n, 3n]) assert.deepEqual(appliedNames(net, id), ['a', 'b', 'c', 'e'], `S${id} applied what was accepted, nothing dropped`);
  assert.equal(net.get(1n).raft.uncommittedSize, 0, 'applied entries leave the count');
  assert.ok(propose(net, trace, 1n, payload('g', 60)));
  assert.ok(propose(net, trace, 1n, payload('h', 30)), 'after the commit the leader takes proposals again');
  for (const id of [1n, 2n, 3n]) assert.deepEqual(appliedNames(net, id), ['a', 'b', 'c', 'e', 'g', 'h']);

  trace.say('appends lost again: a proposal larger than the bound is taken when the tail is empty');
  net.lose((m) => m.type === MessageType.App && m.from === 1n);
  assert.ok(propose(net, trace, 1n, payload('big', 500)));
  assert.equal(propose(net, trace, 1n, payload('i', 1)), false, 'and nothing more after it');
});

scenario('a new leader does not count the uncommitted entries it inherited from an earlier term', (trace) => {
  // without check-quorum's leader lease, so that S3 votes for S2 as soon as S1 is gone
  const net = trace.watch([1n, 2n, 3n], { maxUncommittedEntriesSize: 100, checkQuorum: false });
  elect(net, trace, 1n);
  trace.say('acknowledgements to S1 are lost: its entries reach S2 and S3 but never commit');
  const restoreAcks = net.lose((m) => m.type === MessageType.AppResp && m.to === 1n);
  assert.ok(propose(net, trace, 1n, payload('old1', 45)));
  assert.ok(propose(net, trace, 1n, payload('old2', 45)));
  const oldLast = net.get(1n).raft.raftLog.lastIndex();
  assert.equal(net.get(2n).raft.raftLog.lastIndex(), oldLast, 'S2 holds the entries');
  assert.ok(net.get(2n).raft.raftLog.committed < oldLast, 'uncommitted');
  net.crash(1n);
  restoreAcks();
  trace.say('S1 crashes; acknowledgements to S2 are lost, so S2 cannot commit once it leads');
  const restore = net.lose((m) => m.type === MessageType.AppResp && m.to === 2n);
  elect(net, trace, 2n);
  trace.show(net);
  const s2 = net.get(2n);
  assert.ok(s2.raft.raftLog.committed < oldLast, 'the inherited 90 bytes are still uncommitted');
  assert.equal(s2.raft.uncommittedSize, 0, 'neither they nor the new term\'s empty entry count');
  assert.ok(propose(net, trace, 2n, payload('new1', 45)), 'counting them would make 135 bytes');
  assert.ok(propose(net, trace, 2n, payload('new2', 45)));
  assert.equal(propose(net, trace, 2n, payload('new3', 45)), false, 'its own 90 + 45 would pass 100');

  restore();
  trace.say('acknowledgements reach S2: everything commits, the inherited entries first');
  net.tick(2n);
  net.settle();
  trace.show(net);
  for (const id of [2n, 3n]) assert.deepEqual(appliedNames(net, id), ['old1', 'old2', 'new1', 'new2'], `S${id}`);
  assert.equal(s2.raft.uncommittedSize, 0, 'the count saturates at 0 (the inherited entries were never in it)');
  assert.ok(propose(net, trace, 2n, payload('new3', 45)), 'and S2 takes proposals again');
});
