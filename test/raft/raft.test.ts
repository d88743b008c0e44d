// Scripted Raft scenarios, in the order of the paper: election, replication, reads, transfer, membership.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, MemoryStorage, ProposalDroppedError, RawNode, StateType } from '../../src/raft/index.js';
import { Network } from '../helpers/raft-network.js';

const text = new TextEncoder();

test('a single member elects itself and commits a proposal only after its own write is persisted', () => {
  const storage = new MemoryStorage();
  storage.append([{ term: 1, index: 1, type: 1, data: new Uint8Array([0x93, 0x00, 0x01, 0xc4, 0x00]) }]);
  storage.setHardState({ term: 1, vote: 0n, commit: 1 });
  const node = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage, random: () => 0.5 });
  const first = node.ready();
  node.applyConfChange({ type: ConfChangeType.AddNode, nodeId: 1n, context: new Uint8Array() });
  node.advance(first);
  node.campaign();
  assert.equal(node.raft.state, StateType.Leader);
  assert.equal(node.raft.term, 2, 'the first election after bootstrap is term 2, as in etcd');
  let rd = node.ready();
  assert.equal(rd.entries.length, 1, 'the new leader appends an empty entry');
  assert.equal(node.raft.raftLog.committed, 1, 'not committed before the leader persisted it');
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  node.advance(rd);
  assert.equal(node.raft.raftLog.committed, 2, 'committed once persisted');
  node.propose(text.encode('x'));
  rd = node.ready();
  assert.equal(node.raft.raftLog.committed, 2);
  storage.append(rd.entries);
  node.advance(rd);
  assert.equal(node.raft.raftLog.committed, 3);
  const applied: string[] = rd.committedEntries.map((e) => new TextDecoder().decode(e.data));
  rd = node.ready();
  applied.push(...rd.committedEntries.map((e) => new TextDecoder().decode(e.data)));
  assert.ok(applied.includes('x'), 'the committed proposal is handed out for applying');
});

test('three members elect one leader and replicate entries in the same order everywhere', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  assert.equal(net.leader(), 1n);
  for (const n of net.nodes.values()) assert.equal(n.raft.lead, 1n);
  for (let i = 0; i < 5; i++) net.get(1n).node.propose(text.encode(`v${i}`));
  net.settle();
  net.tickAll(2); // heartbeats carry the commit index to followers
  for (const n of net.nodes.values()) assert.deepEqual(n.applied, ['v0', 'v1', 'v2', 'v3', 'v4'], `node ${n.id}`);
});

test('a follower forwards proposals to the leader', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  net.get(3n).node.propose(text.encode('from-follower'));
  net.settle();
  net.tickAll(2);
  assert.deepEqual(net.get(1n).applied, ['from-follower']);
});

test('pre-vote: a member rejoining after isolation does not disrupt the leader', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  const term = net.get(1n).raft.term;
  net.isolate(3n);
  net.tick(3n, 60); // it would have started several elections without pre-vote
  assert.equal(net.get(3n).raft.term, term, 'pre-candidates do not bump their term');
  net.heal();
  net.tickAll(3);
  assert.equal(net.leader(), 1n);
  assert.equal(net.get(1n).raft.term, term);
});

test('check-quorum: a leader cut off from its quorum steps down', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  net.isolate(1n);
  net.tick(1n, 25);
  assert.equal(net.get(1n).raft.state, StateType.Follower);
  // meanwhile the majority elects a new leader
  net.tickAll(30);
  const leader = net.leader();
  assert.ok(leader === 2n || leader === 3n, `leader ${leader}`);
});

test('ReadIndex on the leader and through a follower waits for a heartbeat quorum', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  net.get(1n).node.propose(text.encode('a'));
  net.settle();
  net.get(1n).node.readIndex(text.encode('ctx-leader'));
  net.settle();
  const leaderReads = net.get(1n).readStates;
  assert.equal(leaderReads.length, 1);
  assert.equal(new TextDecoder().decode(leaderReads[0]!.context), 'ctx-leader');
  assert.equal(leaderReads[0]!.index, net.get(1n).raft.raftLog.committed);
  net.get(2n).node.readIndex(text.encode('ctx-follower'));
  net.settle();
  assert.equal(net.get(2n).readStates.length, 1);
  assert.equal(net.get(2n).readStates[0]!.index, net.get(1n).raft.raftLog.committed);
  // without a quorum no read is released
  net.isolate(1n);
  net.get(1n).node.readIndex(text.encode('ctx-cut-off'));
  net.settle();
  assert.equal(net.get(1n).readStates.length, 1, 'an isolated leader cannot confirm it is still leader');
});

test('leader transfer hands leadership to an up-to-date follower', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  net.get(1n).node.transferLeader(3n);
  net.settle();
  assert.equal(net.leader(), 3n);
  assert.equal(net.get(1n).raft.lead, 3n, 'the old leader follows the new one');
  net.get(1n).node.propose(text.encode('after-transfer'));
  net.settle();
  net.tickAll(2);
  for (const n of net.nodes.values()) assert.deepEqual(n.applied, ['after-transfer'], `node ${n.id}`);
});

test('membership: learners replicate without voting; one configuration change at a time', () => {
  const net = new Network([1n, 2n, 3n]);
  net.get(1n).node.campaign();
  net.settle();
  net.add(4n);
  net.get(1n).node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4n, context: new Uint8Array() });
  assert.throws(
    () => net.get(1n).node.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 5n, context: new Uint8Array() }),
    ProposalDroppedError,
  );
  net.settle();
  net.tickAll(3);
  const leader = net.get(1n).raft;
  assert.ok(leader.trk.learners.has(4n));
  assert.equal(leader.trk.quorum(), 2, 'a learner does not change the quorum');
  net.get(1n).node.propose(text.encode('x'));
  net.settle();
  net.tickAll(3);
  assert.deepEqual(net.get(4n).applied, ['x'], 'the learner replicates');
  assert.equal(net.get(4n).raft.promotable(), false, 'a learner cannot campaign');
  net.get(1n).node.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4n, context: new Uint8Array() });
  net.settle();
  net.tickAll(3);
  assert.ok(leader.trk.voters.has(4n));
  assert.equal(leader.trk.quorum(), 3);
  net.get(1n).node.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 2n, context: new Uint8Array() });
  net.settle();
  net.tickAll(3);
  assert.ok(!leader.trk.voters.has(2n));
  assert.equal(leader.trk.quorum(), 2);
});
