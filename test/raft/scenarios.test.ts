// Scripted scenarios that follow the Raft paper (Ongaro and Ousterhout, "In Search of an Understandable Consensus
// Algorithm", extended version) and the thesis' pre-vote and check-quorum. Each scenario narrates into a trace: every
// message (delivered or lost) and, at each step, every node as a row of the paper's figures (role, term, commit
// index, the term of each log entry). The trace is printed when an assertion fails, and always with RAFT_TRACE=1.
//
// Index/term pairs are written "index/term". A cluster of n members starts with n bootstrap entries of term 1 at
// indexes 1..n (as etcd does), and every new leader appends an empty entry of its term first, so the paper's index 1
// is index n here and each term starts with that empty entry.

import assert from 'node:assert/strict';
import { ConfChangeType, MessageType, NONE, StateType, type Message, type NodeId } from '../../src/raft/index.js';
import { Network, scenario, Trace, type ScriptedNode } from '../helpers/raft-network.js';

const text = new TextEncoder();
const decoder = new TextDecoder();
const ELECTION_TICK = 10; // as configured by the harness



// ---- small vocabulary -------------------------------------------------------------------------------------------

/** The node times out and campaigns, again if its first pre-vote only taught it a newer term, until it leads. */
function elect(net: Network, trace: Trace, id: NodeId): void {
  const n = net.get(id);
  trace.say(`S${id} times out and campaigns`);
  for (let attempt = 0; attempt < 3 && n.raft.state !== StateType.Leader; attempt++) {
    n.node.campaign();
    net.settle();
  }
  assert.equal(n.raft.state, StateType.Leader, `S${id} should have won an election`);
  trace.say(`S${id} leads term ${n.raft.term}`);
}

function propose(net: Network, id: NodeId, ...payloads: string[]): void {
  for (const p of payloads) net.get(id).node.propose(text.encode(p));
  net.settle();
}

/** "index/term:data" for each entry the node's log holds. */
function logOf(n: ScriptedNode): string[] {
  return n.entries().map((e) => `${e.index}/${e.term}:${decoder.decode(e.data)}`);
}

function entryAt(n: ScriptedNode, index: number): string | undefined {
  return logOf(n).find((e) => e.startsWith(`${index}/`));
}

function messages(net: Network, filter: Partial<Pick<Message, 'type' | 'from' | 'to' | 'reject'>>): Message[] {
  return net.sent.filter(
    (m) =>
      (filter.type === undefined || m.type === filter.type) &&
      (filter.from === undefined || m.from === filter.from) &&
      (filter.to === undefined || m.to === filter.to) &&
      (filter.reject === undefined || m.reject === filter.reject),
  );
}

function byId(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Voters whose copy of the log is known to the leader to reach `index`. */
function knownReplicas(leader: ScriptedNode, index: number): NodeId[] {
  const trk = leader.raft.trk;
  return [...trk.voters].filter((id) => (trk.progress.get(id)?.match ?? 0) >= index).sort(byId);
}

// ---- 5.2 leader election ----------------------------------------------------------------------------------------

scenario('5.2 election: a follower times out, pre-votes, becomes a candidate and wins with a majority', (trace) => {
  const net = trace.watch([1n, 2n, 3n]);
  net.crash(3n);
  trace.say('S3 is down; S1 and S2 are followers of nobody; only S1\'s clock runs');
  const s1 = net.get(1n);
  const term = s1.raft.term;
  let ticks = 0;
  while (s1.raft.state === StateType.Follower && ticks < 4 * ELECTION_TICK) {
    s1.node.tick();
    ticks++;
  }
  net.processReadies();
  trace.say(`S1 timed out after ${ticks} ticks`);
  trace.show(net);
  assert.ok(ticks >= ELECTION_TICK && ticks < 2 * ELECTION_TICK, `election timeouts are randomised in [electionTick, 2*electionTick): ${ticks}`);
  assert.equal(s1.raft.state, StateType.PreCandidate, 'with pre-vote it first asks whether it could win');
  assert.equal(s1.raft.term, term, 'a pre-candidate keeps its term');
  assert.deepEqual(net.pending.map((m) => [m.type, m.to, m.term]), [[MessageType.PreVote, 2n, term + 1], [MessageType.PreVote, 3n, term + 1]]);

  net.deliver(); // S2 answers; the request to S3 is lost
  net.deliver(); // S1 counts S2's pre-vote
  trace.show(net);
  assert.equal(s1.raft.state, StateType.Candidate, 'two pre-votes of three: S1 starts the real election');
  assert.equal(s1.raft.term, term + 1, 'a candidate increments its term');
  assert.equal(s1.raft.vote, 1n, 'and votes for itself');

  net.deliver(); // S2 votes
  assert.equal(net.get(2n).raft.vote, 1n, 'S2 grants its vote for the new term');
  net.deliver(); // S1 counts S2's vote
  trace.show(net);
  assert.equal(s1.raft.state, StateType.Leader, 'S1 + S2 are a majority of three: S1 wins without S3');
  assert.equal(s1.raft.term, term + 1);

  net.settle();
  assert.equal(net.get(2n).raft.lead, 1n, 'the new leader announces itself with an append');
  assert.equal(messages(net, { type: MessageType.Vote }).length, 2, 'one vote request per peer, one election');
});

scenario('5.4.1 election restriction: a candidate whose log is behind is refused votes', (trace) => {
  // Without pre-vote or leases, as in the paper, so that the refusal comes from comparing logs alone.
  const net = trace.watch([1n, 2n, 3n], { preVote: false, checkQuorum: false });
  elect(net, trace, 1n);
  net.crash(3n);
  propose(net, 1n, 'x');
  net.tickAll(1);
  const s1 = net.get(1n);
  const xIndex = s1.raft.raftLog.lastIndex();
  assert.equal(s1.raft.raftLog.committed, xIndex, '"x" is committed by S1 and S2 while S3 is down');
  trace.say(`"x" committed at ${xIndex}; now S1 crashes and S3 comes back with a log that lacks it`);
  net.crash(1n);
  net.restart(3n);
  trace.show(net);

  const s2 = net.get(2n);
  const s3 = net.get(3n);
  for (let i = 0; i < 4 * ELECTION_TICK && s3.raft.state === StateType.Follower; i++) net.tick(3n);
  trace.show(net);
  const term = s3.raft.term;
  assert.equal(s3.raft.state, StateType.Candidate, 'S3 timed out and campaigns');
  // S2 had not voted in S3's term, so only the logs can have made it refuse
  assert.equal(s3.raft.trk.votes.get(2n), false, 'S2 refused: S3\'s last entry is older than S2\'s');
  assert.equal(s2.raft.term, term, 'S2 did move to the candidate\'s term');
  assert.equal(s2.raft.vote, NONE, 'but did not vote in it');

  for (let i = 0; i < 4 * ELECTION_TICK && s2.raft.state !== StateType.Leader; i++) net.tick(2n);
  trace.show(net);
  assert.equal(s2.raft.state, StateType.Leader, 'S2, whose log is up to date, wins with S3\'s vote');
  assert.equal(messages(net, { from: 3n, to: 2n, type: MessageType.VoteResp, reject: false }).length, 1);
  assert.equal(s3.raft.vote, 2n);
  assert.equal(entryAt(s2, xIndex), `${xIndex}/${s1.raft.term}:x`, 'the new leader holds the committed entry');
  net.tickAll(1);
  assert.deepEqual(s3.applied, ['x'], 'and S3 gets it from the leader');
});

// ---- 5.3 log replication: repairing followers -------------------------------------------------------------------

scenario('5.3 log repair: a follower missing entries and one with conflicting entries of an older term converge', (trace) => {
  const net = trace.watch([1n, 2n, 3n, 4n, 5n], { checkQuorum: false });
  const [s1, s2, s3] = [net.get(1n), net.get(2n), net.get(3n)];
  elect(net, trace, 3n);
  trace.say('S3, leader of term 2, is cut off and accepts two entries nobody else gets');
  net.isolate(3n);
  propose(net, 3n, 'stale-1', 'stale-2');
  elect(net, trace, 5n);
  propose(net, 5n, 'a', 'b');
  trace.say('S2 crashes; S5 commits two more with S1 and S4');
  net.crash(2n);
  propose(net, 5n, 'c', 'd');
  trace.say('S5 crashes; S2 restarts and S3 rejoins: Figure 7\'s missing-entries and extra-entries followers');
  net.crash(5n);
  net.restart(2n);
  net.heal();
  trace.show(net);
  assert.deepEqual(logOf(s3).slice(-2), ['7/2:stale-1', '8/2:stale-2']);
  assert.equal(s2.raft.raftLog.lastIndex(), 9, 'S2 missed c and d');
  const leaderLast = s1.raft.raftLog.lastIndex();

  const before = net.sent.length;
  elect(net, trace, 1n);
  net.tickAll(1); // a heartbeat carries the final commit index
  trace.show(net);
  const appsTo = (id: NodeId) => net.sent.slice(before).filter((m) => m.type === MessageType.App && m.to === id && m.term === s1.raft.term);
  const rejectsFrom = (id: NodeId) => net.sent.slice(before).filter((m) => m.type === MessageType.AppResp && m.from === id && m.reject);

  // nextIndex starts one past the leader's last entry; S3's refusal hints at its own last entry of a term <= the
  // probed one, so the leader skips S3's whole term-2 tail in one step (the optimisation at the end of 5.3)
  assert.deepEqual(appsTo(3n).slice(0, 2).map((m) => `${m.index}/${m.logTerm}`), [`${leaderLast}/3`, '6/2']);
  assert.deepEqual(rejectsFrom(3n).map((m) => `${m.rejectHint}/${m.logTerm}`), ['8/2']);
  assert.deepEqual(appsTo(2n).slice(0, 2).map((m) => `${m.index}/${m.logTerm}`), [`${leaderLast}/3`, '9/3']);
  assert.deepEqual(rejectsFrom(2n).map((m) => `${m.rejectHint}/${m.logTerm}`), ['9/3']);

  for (const id of [2n, 3n, 4n]) assert.deepEqual(logOf(net.get(id)), logOf(s1), `S${id}'s log is the leader's`);
  assert.equal(entryAt(s3, 7), '7/3:', 'S3\'s conflicting entries were overwritten by the leader\'s');
  for (const id of [1n, 2n, 3n, 4n]) assert.deepEqual(net.get(id).applied, ['a', 'b', 'c', 'd'], `S${id} applied`);
});

// ---- 5.4.2 committing entries from previous terms (Figure 8) ----------------------------------------------------

/**
 * Figure 8 up to (c), with five members (bootstrap entries 1..5, S1's empty entry of term 2 at 6, so the paper's
 * index 2 is index 7 here). Appends carry one entry each, so an old entry can be replicated without newer ones.
 */
function figure8UpToC(trace: Trace): { net: Network; endLoss: () => void } {
  const net = trace.watch([1n, 2n, 3n, 4n, 5n], { checkQuorum: false, maxSizePerMsg: 1 });
  const [s1, s5] = [net.get(1n), net.get(5n)];

  elect(net, trace, 1n);
  trace.say('(a) S1 leads term 2 and replicates entry 7 ("a") to S2 only');
  let endLoss = net.lose((m) => m.from === 1n && m.to >= 3n);
  propose(net, 1n, 'a');
  trace.show(net);
  assert.equal(entryAt(net.get(2n), 7), '7/2:a');
  assert.equal(s1.raft.raftLog.committed, 6, 'two copies of five: not committed');

  trace.say('(b) S1 crashes; S5 is elected for term 3 by S3, S4 and itself and accepts its own entries at 7 and 8');
  endLoss();
  net.crash(1n);
  endLoss = net.lose((m) => m.from === 5n && m.type === MessageType.App);
  elect(net, trace, 5n);
  propose(net, 5n, 'b');
  trace.show(net);
  assert.deepEqual(logOf(s5).slice(-2), ['7/3:', '8/3:b']);
  assert.notEqual(net.get(2n).raft.vote, 5n, 'S2 refused S5: its last entry (7/2) is newer than S5\'s (6/2)');

  trace.say('(c) S5 crashes; S1 restarts, is elected for term 4 and copies entry 7 (term 2) to S3 and S4, but not its own entry 8');
  endLoss();
  net.crash(5n);
  net.restart(1n);
  // Appends that would hand S1's term-4 entry to a follower are lost. The ones a follower refuses still arrive, so S1
  // can probe S3 and S4 back to the index where their logs match.
  endLoss = net.lose((m) => m.type === MessageType.App && m.entries.some((e) => e.term === 4) && net.get(m.to).raft.raftLog.matchTerm(m.index, m.logTerm));
  elect(net, trace, 1n);
  trace.show(net);
  assert.equal(s1.raft.term, 4);
  for (const id of [1n, 2n, 3n, 4n]) assert.equal(entryAt(net.get(id), 7), '7/2:a', `S${id} holds 7/2`);
  assert.equal(entryAt(net.get(2n), 8), undefined, 'nobody else has entry 8 of term 4');
  return { net, endLoss };
}

scenario('5.4.2 Figure 8 (c)-(d): an entry of a previous term held by a majority is not committed, and may still be overwritten', (trace) => {
  const { net, endLoss } = figure8UpToC(trace);
  const s1 = net.get(1n);
  assert.deepEqual(knownReplicas(s1, 7), [1n, 3n, 4n], 'the leader knows a majority holds 7/2');
  assert.equal(s1.raft.raftLog.committed, 6, 'yet does not commit it: it is not of the leader\'s term');

  trace.say('(d) S1 crashes; S5 restarts and is elected for term 5 by S2, S3 and S4 (its last term 3 beats their 2)');
  endLoss();
  net.crash(1n);
  net.restart(5n);
  elect(net, trace, 5n);
  net.tickAll(2);
  trace.show(net);
  for (const id of [2n, 3n, 4n]) assert.equal(entryAt(net.get(id), 7), '7/3:', `S5 overwrote entry 7 on S${id}`);
  for (const id of [2n, 3n, 4n, 5n]) assert.deepEqual(net.get(id).applied, ['b'], `S${id} applied "b", never "a"`);
});

scenario('5.4.2 Figure 8 (e): once an entry of the current term is committed, the earlier entry is committed with it', (trace) => {
  const { net, endLoss } = figure8UpToC(trace);
  const s1 = net.get(1n);
  trace.say('(e) S1 replicates its term-4 entry 8 to a majority before crashing');
  endLoss();
  net.settle();
  net.tickAll(1);
  trace.show(net);
  assert.equal(s1.raft.raftLog.committed, 8, 'committing 8/4 commits 7/2 before it');
  for (const id of [1n, 2n, 3n, 4n]) assert.deepEqual(net.get(id).applied, ['a'], `S${id} applied "a"`);

  trace.say('S1 crashes; S5 restarts and tries three times to get elected');
  net.crash(1n);
  net.restart(5n);
  const s5 = net.get(5n);
  for (let attempt = 0; attempt < 3; attempt++) {
    s5.node.campaign();
    net.settle();
  }
  trace.show(net);
  assert.notEqual(s5.raft.state, StateType.Leader, 'S5 cannot win: S2, S3 and S4 hold entries of term 4');
  for (const id of [2n, 3n, 4n]) assert.equal(entryAt(net.get(id), 7), '7/2:a', `S${id} still holds the committed 7/2`);

  trace.say('S2 is elected instead and repairs S5');
  elect(net, trace, 2n);
  net.tickAll(1);
  trace.show(net);
  assert.deepEqual(logOf(s5), logOf(net.get(2n)), 'S5\'s entries of term 3 were replaced by the committed log');
  assert.deepEqual(s5.applied, ['a'], 'S5 applies "a", and "b" is gone');
});

// ---- pre-vote and check-quorum (thesis 9.6 and 6.2) -------------------------------------------------------------

interface Rejoin {
  net: Network;
  /** S1's term as leader before the partition */
  term: number;
  /** the states S3 went through while cut off */
  s3States: Set<number>;
  /** S3's term just before it rejoined */
  isolatedTerm: number;
  /** the (pre-)vote requests S3 sent while cut off */
  requests: Message[];
  /** whether S1 stopped leading after S3 rejoined */
  deposed: boolean;
}

/** S3 is cut off from a three-member cluster led by S1 for 6 election timeouts, then rejoins. */
function isolateAndRejoin(trace: Trace, preVote: boolean): Rejoin {
  const net = trace.watch([1n, 2n, 3n], { preVote });
  const [s1, s3] = [net.get(1n), net.get(3n)];
  elect(net, trace, 1n);
  const term = s1.raft.term;
  trace.say(`S3 is cut off (pre-vote ${preVote ? 'on' : 'off'})`);
  net.isolate(3n);
  const s3States = new Set<number>();
  for (let i = 0; i < 6 * ELECTION_TICK; i++) {
    net.tickAll(1);
    s3States.add(s3.raft.state);
  }
  trace.show(net);
  const isolatedTerm = s3.raft.term;
  const requests = messages(net, { from: 3n }).filter((m) => m.type === MessageType.PreVote || m.type === MessageType.Vote);
  trace.say('S3 rejoins');
  net.heal();
  let deposed = false;
  for (let i = 0; i < 3 * ELECTION_TICK; i++) {
    net.tickAll(1);
    if (s1.raft.state !== StateType.Leader) deposed = true;
  }
  trace.show(net);
  return { net, term, s3States, isolatedTerm, requests, deposed };
}

scenario('pre-vote: a cut-off member keeps its term while it pre-votes, and does not disrupt the leader when it rejoins', (trace) => {
  const r = isolateAndRejoin(trace, true);
  assert.ok(r.s3States.has(StateType.PreCandidate), 'S3 did time out and pre-vote');
  assert.ok(!r.s3States.has(StateType.Candidate), 'but never became a candidate: nobody answered');
  assert.ok(r.requests.length > 0 && r.requests.every((m) => m.type === MessageType.PreVote && m.term === r.term + 1), 'it asked for the next term');
  assert.equal(r.isolatedTerm, r.term, 'without changing its own term');
  assert.equal(r.deposed, false, 'S1 stays leader when S3 rejoins');
  for (const n of r.net.nodes.values()) {
    assert.equal(n.raft.term, r.term, `S${n.id}'s term`);
    assert.equal(n.raft.lead, 1n, `S${n.id} follows S1`);
  }

  trace.say('the same partition without pre-vote, to show what it prevents');
  const without = isolateAndRejoin(trace, false);
  assert.ok(without.isolatedTerm > without.term, 'without pre-vote each timeout bumps the cut-off member\'s term');
  assert.equal(without.deposed, true, 'and its higher term deposes the leader when it rejoins');
});

scenario('check-quorum: a leader that cannot hear a majority steps down after an election timeout', (trace) => {
  const net = trace.watch([1n, 2n, 3n, 4n, 5n]);
  const s1 = net.get(1n);
  elect(net, trace, 1n);
  const term = s1.raft.term;
  trace.say('S1 and S2 are cut off from S3, S4 and S5');
  net.partition([1n, 2n], [3n, 4n, 5n]);
  let steppedDownAfter: number | undefined;
  for (let tick = 1; tick <= 4 * ELECTION_TICK && steppedDownAfter === undefined; tick++) {
    net.tickAll(1);
    if (s1.raft.state !== StateType.Leader) steppedDownAfter = tick;
  }
  trace.say(`S1 stepped down after ${steppedDownAfter} ticks`);
  trace.show(net);
  // The check runs every election timeout and looks back over it: the first one after the partition still counts the
  // answers S1 had before it, the next one finds only S2 and steps down.
  assert.ok(steppedDownAfter !== undefined && steppedDownAfter > ELECTION_TICK && steppedDownAfter <= 2 * ELECTION_TICK, `stepped down after ${steppedDownAfter} ticks`);
  assert.equal(s1.raft.term, term, 'stepping down does not change the term');
  assert.equal(s1.raft.lead, NONE);

  for (let i = 0; i < 4 * ELECTION_TICK && net.leader() === undefined; i++) net.tickAll(1);
  const leader = net.leader();
  assert.ok(leader !== undefined && leader >= 3n, `the majority side elects a leader (${leader})`);
  net.heal();
  net.tickAll(2);
  trace.show(net);
  assert.equal(s1.raft.lead, leader, 'S1 follows the new leader once healed');

  // the contrast: a leader that hears a majority (itself, S2 and S3) keeps leading
  const net2 = new Network([1n, 2n, 3n, 4n, 5n]);
  net2.get(1n).node.campaign();
  net2.settle();
  net2.partition([1n, 2n, 3n], [4n, 5n]);
  for (let i = 0; i < 10 * ELECTION_TICK; i++) {
    net2.tickAll(1);
    assert.equal(net2.get(1n).raft.state, StateType.Leader, `a leader with a majority stays (tick ${i})`);
  }
});

// ---- learners (thesis 4.2.1) ------------------------------------------------------------------------------------

scenario('learner: receives entries, is not counted for commits or votes, never campaigns; promoted, it is a voter', (trace) => {
  const net = trace.watch([1n, 2n, 3n]);
  const [s1, s2] = [net.get(1n), net.get(2n)];
  elect(net, trace, 1n);
  const s4 = net.add(4n);
  s1.node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4n, context: new Uint8Array() });
  net.settle();
  propose(net, 1n, 'x');
  net.tickAll(1);
  trace.say('S4 joined as a learner');
  trace.show(net);
  assert.deepEqual(s4.confState, { voters: [1n, 2n, 3n], learners: [4n] }, 'S4 learned the configuration from the log');
  assert.deepEqual(s4.applied, ['x'], 'the learner receives and applies entries');

  trace.say('S4 is cut off for 6 election timeouts: a voter would campaign');
  const termBefore = s4.raft.term;
  net.isolate(4n);
  net.tickAll(6 * ELECTION_TICK);
  net.heal();
  net.tickAll(1);
  assert.deepEqual(messages(net, { from: 4n }).filter((m) => m.type === MessageType.PreVote || m.type === MessageType.Vote), [], 'a learner never campaigns');
  assert.equal(s4.raft.term, termBefore);

  trace.say('S2 and S3 crash: S1 and the learner hold "y", which is not a majority of the voters');
  net.crash(2n);
  net.crash(3n);
  const committed = s1.raft.raftLog.committed;
  propose(net, 1n, 'y');
  trace.show(net);
  assert.deepEqual(knownReplicas(s1, s1.raft.raftLog.lastIndex()), [1n], 'only S1 counts');
  assert.equal(s1.raft.trk.progress.get(4n)!.match, s1.raft.raftLog.lastIndex(), 'although S4 acknowledged "y"');
  assert.equal(s1.raft.raftLog.committed, committed, 'so "y" is not committed');
  net.restart(2n);
  net.tickAll(1);
  assert.ok(s1.raft.raftLog.committed > committed, 'S2\'s copy commits it');

  trace.say('S1 crashes: S2 times out, and even a vote the learner grants does not make it win');
  net.crash(1n);
  for (let i = 0; i < 4 * ELECTION_TICK && s2.raft.state === StateType.Follower; i++) net.tickAll(1);
  assert.equal(s2.raft.state, StateType.PreCandidate);
  const requests = messages(net, { from: 2n, type: MessageType.PreVote });
  assert.deepEqual([...new Set(requests.map((m) => m.to))].sort(byId), [1n, 3n], 'S2 asks the voters only');
  // Hand S4 a copy anyway, as if it were asked. It has gone as long as S2 without hearing a leader, so it is out of
  // its lease and answers; its log is no newer than S2's, so it grants.
  net.pending.push({ ...requests[requests.length - 1]!, to: 4n });
  net.settle();
  trace.show(net);
  assert.equal(s2.raft.trk.votes.get(4n), true, 'the learner granted it');
  assert.equal(s2.raft.state, StateType.PreCandidate, 'but S2 has one vote of three voters');

  trace.say('S1 and S3 return; a transfer of leadership to the learner is ignored; after promotion it succeeds');
  net.restart(1n);
  net.restart(3n);
  for (let i = 0; i < 4 * ELECTION_TICK && net.leader() === undefined; i++) net.tickAll(1);
  const leader = net.get(net.leader()!);
  leader.node.transferLeader(4n);
  net.settle();
  assert.equal(net.leader(), leader.id, 'a learner cannot take over');
  leader.node.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4n, context: new Uint8Array() });
  net.settle();
  net.tickAll(1);
  trace.show(net);
  for (const n of net.nodes.values()) assert.deepEqual(n.confState, { voters: [1n, 2n, 3n, 4n], learners: [] }, `S${n.id}'s configuration`);
  assert.equal(s4.raft.isLearner, false);
  assert.equal(s4.raft.promotable(), true);
  leader.node.transferLeader(4n);
  net.settle();
  trace.show(net);
  assert.equal(net.leader(), 4n, 'the promoted member can be elected');
  assert.ok(messages(net, { to: 4n, type: MessageType.VoteResp, reject: false }).length >= 2, 'with the votes of two other voters');
});

// ---- snapshots (5.7 of the paper: log compaction) ---------------------------------------------------------------

scenario('snapshot: a follower behind the leader\'s compacted log installs a snapshot, then catches up by appends', (trace) => {
  const net = trace.watch([1n, 2n, 3n]);
  const [s1, s3] = [net.get(1n), net.get(3n)];
  elect(net, trace, 1n);
  propose(net, 1n, 'a', 'b');
  trace.say('S3 crashes; S1 commits ten more entries with S2 and compacts its log');
  net.crash(3n);
  propose(net, 1n, ...Array.from({ length: 10 }, (_, i) => `e${i}`));
  net.tickAll(1);
  const snap = s1.compact();
  propose(net, 1n, 'after-1', 'after-2');
  net.tickAll(1);
  trace.show(net);
  assert.equal(s1.raft.raftLog.firstIndex(), snap.metadata.index + 1, 'S1 no longer has the entries up to its snapshot');
  assert.ok(s3.raft.raftLog.lastIndex() < snap.metadata.index, 'S3 is behind the compacted prefix');

  trace.say('S3 restarts');
  const before = net.sent.length;
  net.restart(3n);
  net.tickAll(2);
  trace.show(net);
  const toS3 = net.sent.slice(before).filter((m) => m.to === 3n);
  const snaps = toS3.filter((m) => m.type === MessageType.Snap);
  assert.deepEqual(snaps.map((m) => m.snapshot!.metadata.index), [snap.metadata.index], 'one snapshot was sent');
  assert.equal(s3.storage.snapshot().metadata.index, snap.metadata.index, 'S3 installed it');
  const afterSnap = toS3.slice(toS3.indexOf(snaps[0]!) + 1).filter((m) => m.type === MessageType.App && m.entries.length > 0);
  assert.ok(afterSnap.length > 0 && afterSnap.every((m) => m.entries[0]!.index === m.index + 1 && m.index >= snap.metadata.index), 'then appends of what follows it only');
  assert.deepEqual(logOf(s3), logOf(s1), 'S3\'s log is the leader\'s');
  assert.deepEqual(s3.applied, s1.applied, 'and so is its state');
  assert.deepEqual(s3.applied.slice(-2), ['after-1', 'after-2']);
  assert.equal(s3.appliedIndex, s1.appliedIndex);
});

scenario('snapshot: a follower that just installed one does not campaign while a committed conf change is unapplied', (trace) => {
  // A member does not campaign while it has committed but unapplied configuration changes: its configuration is
  // about to change (etcd's hup). That must also hold right after a snapshot, whose state counts as applied.
  const net = trace.watch([1n, 2n, 3n]);
  const [s1, s3] = [net.get(1n), net.get(3n)];
  elect(net, trace, 1n);
  net.crash(3n);
  propose(net, 1n, 'a', 'b');
  net.tickAll(1);
  const snap = s1.compact();
  trace.say('S1 compacts, then commits a configuration change (adding a learner S4, which never shows up) with S2');
  s1.node.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4n, context: new Uint8Array() });
  net.settle();
  net.tickAll(1);
  const confIndex = s1.raft.raftLog.lastIndex();
  assert.equal(s1.raft.raftLog.committed, confIndex);

  trace.say('S3 restarts and installs the snapshot; then its disk stalls, so the append that follows is not applied');
  net.restart(3n);
  s1.node.tick(); // a heartbeat: S3's answer makes S1 find it behind the snapshot
  net.processReadies();
  for (let i = 0; i < 10 && s3.storage.snapshot().metadata.index !== snap.metadata.index; i++) net.deliver();
  assert.equal(s3.storage.snapshot().metadata.index, snap.metadata.index, 'S3 installed the snapshot');
  net.stall(3n);
  net.settle();
  trace.show(net);
  assert.equal(s3.raft.raftLog.committed, confIndex, 'S3 knows the configuration change is committed');
  assert.deepEqual(s3.confState.learners, [], 'but has not applied it');

  trace.say('S3 hears nothing from S1 for two election timeouts');
  const term = s3.raft.term;
  for (let i = 0; i < 2 * ELECTION_TICK; i++) s3.node.tick();
  trace.show(net);
  assert.equal(s3.raft.state, StateType.Follower, 'S3 does not campaign with a configuration change pending');
  assert.equal(s3.raft.term, term);
  net.resume(3n);
  net.settle();
  assert.deepEqual(s3.confState.learners, [4n], 'once the disk resumes, S3 applies it');
});
